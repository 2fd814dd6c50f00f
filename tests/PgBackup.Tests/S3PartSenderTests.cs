using System;
using System.Collections.Generic;
using System.Threading;
using PgBackup;
using PgBackup.TestHarness;
using Xunit;
using static PgBackup.Tests.S3TestServer;

namespace PgBackup.Tests
{
    /// <summary>
    /// Parts sent as plain signed PUTs (S3PartSender): the signature against AWS's published test-suite values, the
    /// cases where the sender stands aside, and against the real gateway: parts under awkward keys, and the SDK taking
    /// over when a part cannot be sent.
    /// </summary>
    [Collection(S3UploadsCollection.Name)]
    public sealed class S3PartSenderTests
    {
        private static S3TestServer Server => S3TestServer.Current!;
        private static readonly CancellationToken None = CancellationToken.None;

        // AWS's SigV4 test suite: example credentials, date and host.
        private const string ExampleKey = "AKIDEXAMPLE";
        private const string ExampleSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

        private static List<KeyValuePair<string, string>> ExampleHeaders() => new List<KeyValuePair<string, string>>
        {
            new KeyValuePair<string, string>("x-amz-date", "20150830T123600Z"),
            new KeyValuePair<string, string>("host", "example.amazonaws.com"),
        };

        [Theory]
        // get-vanilla
        [InlineData("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")]
        // get-vanilla-query-order-key-case (the canonical query is sorted by name)
        [InlineData("Param1=value1&Param2=value2", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")]
        public void SignsLikeTheAwsTestSuite(string query, string signature)
        {
            var authorization = SigV4.Authorization(ExampleKey, ExampleSecret, "us-east-1", "service", "GET", "/", query, ExampleHeaders(), SigV4.EmptyPayloadHash);
            Assert.Equal("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + signature, authorization);
        }

        [Fact]
        public void EncodesQueryValuesAsSigV4Wants()
        {
            Assert.Equal("2~Ab-_.9", SigV4.UriEncode("2~Ab-_.9"));
            Assert.Equal("a%20b%2Fc%2B%3D%26%C3%BC", SigV4.UriEncode("a b/c+=&ü"));
            Assert.Equal(SigV4.EmptyPayloadHash, SigV4.PayloadHash(new byte[3], 1, 0));
        }

        private static S3Connection Connection(string access = "AKIAPARTSENDER", string? token = null) => new S3Connection(new StoreOptions
        {
            AccessKey = access,
            SecretKey = "not-a-real-secret",
            SessionToken = token,
            EndpointUrl = "http://127.0.0.1:9",
            Region = "us-east-1",
        });

        private const string Good = "http://127.0.0.1:9/bucket/prefix/backup_app_20260101_030000.sql.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAPARTSENDER%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T030000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&partNumber=1&uploadId=2~abc&X-Amz-Signature=00";

        [Fact]
        public void TakesTheUrlAndScopeFromTheSdksPresignedUrl()
        {
            using var s3 = Connection();
            Assert.NotNull(S3PartSender.FromPresignedUrl(s3, Good, "2~abc"));
            // The SDK's own presigned URL for a part, computed locally (no request).
            using var real = new S3Connection(new StoreOptions { AccessKey = "AKIAPARTSENDER", SecretKey = "x", EndpointUrl = "http://127.0.0.1:9", Region = "eu-west-3" });
            Assert.NotNull(S3PartSender.TryCreate(real, "bucket", "Prod DB/ü/backup_app_20260101_030000.sql.gz", "2~abc", out var why));
            Assert.Null(why);
        }

        [Theory]
        [InlineData("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256")] // SigV4a (multi-region access points)
        [InlineData("X-Amz-Algorithm=AWS4-HMAC-SHA256&", "")]                                         // no algorithm
        [InlineData("AKIAPARTSENDER%2F", "AKIAOTHER%2F")]                                             // signed with other credentials
        [InlineData("%2Fs3%2Faws4_request", "%2Fs3")]                                                 // a scope of another shape
        [InlineData("?", "#")]                                                                        // no query at all
        public void StandsAsideWhenThePresignedUrlIsNotAsExpected(string from, string to)
        {
            using var s3 = Connection();
            Assert.Null(S3PartSender.FromPresignedUrl(s3, Good.Replace(from, to), "2~abc"));
        }

        [Fact]
        public void StandsAsideForASessionTokenTheSdkDidNotSign()
        {
            using var s3 = Connection(token: "session-token");
            Assert.Null(S3PartSender.FromPresignedUrl(s3, Good, "2~abc"));
            Assert.NotNull(S3PartSender.FromPresignedUrl(s3, Good + "&X-Amz-Security-Token=session-token", "2~abc"));
        }

        [Fact]
        public void StandsAsideWhereTheSdkAddsItsOwnChecksums()
        {
            using var aws = new S3Connection(new StoreOptions { AccessKey = "AKIAPARTSENDER", SecretKey = "x", Region = "eu-west-3" });
            Assert.False(aws.Options.ChecksumsWhenRequired);
            Assert.Null(S3PartSender.TryCreate(aws, "bucket", "backup_app_20260101_030000.sql.gz", "2~abc", out var why));
            Assert.Contains("WhenSupported", why);
        }

        private const string Name = "backup_app_20260101_030000.sql.gz";

        /// <summary>Uploads <paramref name="data"/> as <see cref="Name"/>, runs <paramref name="check"/> once it is stored, commits, and reads it back.</summary>
        private static void UploadAndReadBack(IBackupStore store, byte[] data, Action<S3UploadStream> check)
        {
            using (var w = store.OpenWrite(Name, None))
            {
                w.Stream.Write(data, 0, data.Length);
                w.Finish(None);
                check((S3UploadStream)w.Stream);
                w.Commit(None);
            }
            Assert.Equal(Sha(data), Sha(ReadAll(store, Name)));
        }

        [S3Theory]
        [InlineData("")]
        [InlineData("Prod DB/ü+=&~/")]
        public void SendsPartsThatTheGatewayAccepts(string prefix)
        {
            var bucket = Server.NewBucket();
            var log = new ListLog();
            using var store = new S3Store($"s3://{bucket}/{prefix}", Server.Options(partSizeMiB: 5, concurrency: 2), log);
            using var c = Server.Client();
            UploadAndReadBack(store, RandomBytes((11 << 20) + 777), upload =>
            {
                Assert.Null(upload.DirectPartFailure);
                Assert.Equal(3, upload.DirectParts);
                Assert.Empty(log.Messages);
            });
            Assert.Empty(S3TestServer.Uploads(c, bucket));
        }

        [S3Fact]
        public void TheSdkSendsThePartsThatCouldNotGoDirectly()
        {
            var bucket = Server.NewBucket();
            // One connection is cut once it has carried 6 MiB: the second part sent over the first connection.
            using var proxy = new CutProxy("127.0.0.1", Server.Port) { CutUploadAfterBytes = 6 << 20, UploadCuts = 1 };
            var log = new ListLog();
            using var store = new S3Store($"s3://{bucket}/", Server.Options(partSizeMiB: 5, concurrency: 1, endpoint: proxy.Url), log);
            using var c = Server.Client();
            UploadAndReadBack(store, RandomBytes((21 << 20) + 5), upload =>
            {
                Assert.Equal(1, proxy.Cuts);
                Assert.Equal(1, upload.DirectParts);
                Assert.NotNull(upload.DirectPartFailure);
                // Said once, with -Verbose.
                Assert.Contains(log.Messages, m => m.StartsWith("Part 2 of s3://") && m.EndsWith("the AWS SDK sends it and the rest."));
                Assert.Single(log.Messages);
            });
            Assert.Empty(S3TestServer.Uploads(c, bucket));
        }

        [S3Fact]
        public void WithTheVariableSetTheSdkSendsEveryPart()
        {
            var bucket = Server.NewBucket();
            var log = new ListLog();
            using var store = new S3Store($"s3://{bucket}/", Server.Options(partSizeMiB: 5, concurrency: 2), log);
            Environment.SetEnvironmentVariable(S3PartSender.DisableVariable, "1");
            try
            {
                UploadAndReadBack(store, RandomBytes((6 << 20) + 1), upload =>
                {
                    Assert.Equal(0, upload.DirectParts);
                    Assert.Equal(new[] { $"The parts of s3://{bucket}/{Name} go through the AWS SDK: PGBACKUP_S3_SDK_PARTS=1." }, log.Messages);
                });
            }
            finally { Environment.SetEnvironmentVariable(S3PartSender.DisableVariable, null); }
        }
    }

    /// <summary>A log that keeps the verbose messages.</summary>
    internal sealed class ListLog : IOperationLog
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        public string[] Messages => _messages.ToArray();
        public void Verbose(string message) => _messages.Enqueue(message);
        public void Warning(string message) => _messages.Enqueue("WARNING: " + message);
        public void Progress(ProgressInfo progress) { }
    }
}
