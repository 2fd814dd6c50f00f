using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Amazon.S3.Model;
using System.Threading;
using PgBackup;
using PgBackup.TestHarness;
using Xunit;
using static PgBackup.Tests.S3TestServer;

namespace PgBackup.Tests
{
    /// <summary>
    /// Requests PgBackup signs and sends itself (S3Direct): the signature against AWS's published test-suite values,
    /// the URL against the SDK's, the cases left to the SDK, and against the real gateway: every kind of request under
    /// awkward keys, listings page by page as the SDK lists them, and the SDK taking over when a request fails.
    /// </summary>
    [Collection(S3UploadsCollection.Name)]
    public sealed class S3DirectTests
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

        private static StoreOptions Custom(string endpoint = "http://127.0.0.1:9", string region = "eu-west-3") =>
            new StoreOptions { AccessKey = "AKIADIRECT", SecretKey = "not-a-real-secret", EndpointUrl = endpoint, Region = region };

        [Theory]
        [InlineData("backup_app_20260101_030000.sql.gz")]
        [InlineData("Prod DB/ü/backup_app_20260101_030000.sql.gz")]
        [InlineData("a+b=c&d~e/x y/backup_app_20260101_030000.sql.gz.json")]
        [InlineData("pre//fix/backup_app_20260101_030000.dump/toc.dat")]
        public void BuildsTheUrlAndSigningRegionTheSdkWouldUse(string key)
        {
            using var s3 = new S3Connection(Custom(endpoint: "http://127.0.0.1:9000/"));
            var direct = s3.Direct;
            Assert.NotNull(direct);
            // The SDK's own URL for the object, computed locally (a presigned URL: no request).
            var presigned = s3.Client.GetPreSignedURL(new Amazon.S3.Model.GetPreSignedUrlRequest
            {
                BucketName = "my-bucket", Key = key, Verb = Amazon.S3.HttpVerb.PUT, Expires = DateTime.UtcNow.AddMinutes(5), Protocol = Amazon.S3.Protocol.HTTP,
            });
            Assert.Equal(presigned.Substring(0, presigned.IndexOf('?')), direct!.UrlOf("my-bucket", key));
            var credential = Uri.UnescapeDataString(presigned.Split('?')[1].Split('&').First(p => p.StartsWith("X-Amz-Credential=")).Split('=')[1]);
            Assert.Equal("eu-west-3", credential.Split('/')[2]);
            Assert.Equal("eu-west-3", direct.SigningRegion);
        }

        [Fact]
        public void SortsAndEncodesTheQueryAsSigned()
        {
            Assert.Equal("continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix=Prod%20DB%2F", S3Direct.Query(("list-type", "2"), ("prefix", "Prod DB/"), ("delimiter", null), ("continuation-token", "a+b/c=")));
            Assert.Equal("partNumber=3&uploadId=2~abc", S3Direct.Query(("uploadId", "2~abc"), ("partNumber", "3")));
            Assert.Equal("uploads=", S3Direct.Query(("uploads", "")));
        }

        public static TheoryData<StoreOptions, string> NotDirect => new TheoryData<StoreOptions, string>
        {
            // AWS: the SDK adds its CRC32 checksums (and works out AWS's endpoints).
            { new StoreOptions { AccessKey = "AKIADIRECT", SecretKey = "x", Region = "eu-west-3" }, "WhenSupported" },
            { new StoreOptions { AccessKey = "AKIADIRECT", SecretKey = "x", Region = "eu-west-3", ChecksumMode = S3ChecksumMode.WhenRequired }, "AWS's endpoints" },
            { new StoreOptions { AccessKey = "AKIADIRECT", SecretKey = "x", EndpointUrl = "http://127.0.0.1:9", ChecksumMode = S3ChecksumMode.WhenSupported }, "WhenSupported" },
            { new StoreOptions { AccessKey = "AKIADIRECT", SecretKey = "x", EndpointUrl = "http://127.0.0.1:9", AddressingStyle = S3AddressingStyle.VirtualHosted }, "virtual-hosted" },
            { new StoreOptions { AccessKey = "AKIADIRECT", SecretKey = "x", EndpointUrl = "http://127.0.0.1:9/s3/" }, "path" },
        };

        [Theory]
        [MemberData(nameof(NotDirect))]
        public void LeavesEveryRequestToTheSdkWhereItMustWorkTheRequestOut(StoreOptions options, string why)
        {
            using var s3 = new S3Connection(options);
            Assert.Null(s3.Direct);
            Assert.Contains(why, s3.NoDirectReason);
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
        public void MakesABackupsRequestsDirectly(string prefix)
        {
            var bucket = Server.NewBucket();
            var log = new ListLog();
            using var store = new S3Store($"s3://{bucket}/{prefix}", Server.Options(), log);
            using var c = Server.Client();
            // The name check, the marker, the multipart upload and its parts, the marker's removal; then a small object.
            UploadAndReadBack(store, RandomBytes((11 << 20) + 777), upload =>
            {
                Assert.Null(upload.DirectPartFailure);
                Assert.Equal(3, upload.DirectParts);
            });
            Assert.Empty(S3TestServer.Uploads(c, bucket));
            var manifest = Encoding.UTF8.GetBytes("{\"manifest\": true}");
            using (var w = store.OpenWrite(Name + ".json", None))
            {
                w.Stream.Write(manifest, 0, manifest.Length);
                w.Commit(None);
            }
            Assert.Equal(new[] { prefix + Name, prefix + Name + ".json" }, S3TestServer.Keys(c, bucket).OrderBy(k => k, StringComparer.Ordinal));
            var listed = store.List(null, None).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            Assert.Equal(new[] { Name, Name + ".json" }, listed.Select(e => e.Name));
            Assert.Equal(new[] { (11L << 20) + 777, manifest.Length }, listed.Select(e => e.SizeBytes));
            Assert.All(listed, e => Assert.InRange(e.LastModifiedUtc, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(5)));
            Assert.Empty(store.AbortStaleUploads(DateTime.UtcNow.AddDays(1), None));
            store.Delete(Name + ".json", None);
            Assert.Equal(new[] { prefix + Name }, S3TestServer.Keys(c, bucket));
            // Not one request fell back to the SDK.
            Assert.NotNull(store.Connection.Direct);
            Assert.Empty(log.Messages);
        }

        private static string Line(string key, long size, DateTime modified) => $"{key} {size} {modified.ToUniversalTime():yyyy-MM-dd HH:mm:ss.fff}";

        /// <summary>Every page's lines, following each page's continuation token.</summary>
        private static List<string> AllPages(Func<string?, (IEnumerable<string> Lines, string? Next)> page)
        {
            var lines = new List<string>();
            string? token = null;
            do
            {
                var (these, next) = page(token);
                lines.AddRange(these);
                token = next;
            } while (token is not null);
            return lines;
        }

        [S3Fact]
        public void ListsPageByPageAsTheSdkDoes()
        {
            var bucket = Server.NewBucket();
            using var c = Server.Client();
            S3TestServer.PutMany(c, bucket, new[] { "p/a", "p/b b", "p/ü", "p/sub/1", "p/sub/2", "p/zz/x", "q" });
            using var s3 = new S3Connection(Server.Options());
            foreach (var delimiter in new[] { null, "/" })
            {
                int pages = 0;
                var mine = AllPages(token =>
                {
                    var page = s3.Direct!.ListObjectsAsync(bucket, "p/", delimiter, token, 2, None).GetAwaiter().GetResult();
                    pages++;
                    return (page.Objects.Select(o => Line(o.Key, o.Size, o.LastModifiedUtc)).Concat(page.Prefixes.Select(p => "prefix " + p)), page.NextToken);
                });
                var sdk = AllPages(token =>
                {
                    var page = c.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "p/", Delimiter = delimiter, ContinuationToken = token, MaxKeys = 2 }).GetAwaiter().GetResult();
                    return ((page.S3Objects ?? new List<S3Object>()).Select(o => Line(o.Key, o.Size ?? -1, o.LastModified!.Value))
                        .Concat((page.CommonPrefixes ?? new List<string>()).Select(p => "prefix " + p)), page.IsTruncated == true ? page.NextContinuationToken : null);
                });

                Assert.Equal(sdk, mine);
                Assert.True(pages >= 3, $"{pages} pages");
                Assert.Contains(delimiter is null ? "p/sub/1" : "prefix p/sub/", string.Join("\n", mine));
            }
        }

        [S3Fact]
        public void ListsUnfinishedUploadsAsTheSdkDoes()
        {
            var bucket = Server.NewBucket();
            using var c = Server.Client();
            foreach (var key in new[] { "p/backup_a_20260101_030000.sql.gz", "p/x y/ü", "q" })
                c.InitiateMultipartUploadAsync(bucket, key).GetAwaiter().GetResult();
            using var s3 = new S3Connection(Server.Options());
            var page = s3.Direct!.ListUploadsAsync(bucket, "p/", null, null, None).GetAwaiter().GetResult();
            var sdk = c.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket, Prefix = "p/" }).GetAwaiter().GetResult();
            Assert.Equal(sdk.MultipartUploads.Select(u => Line(u.Key, 0, u.Initiated!.Value) + " " + u.UploadId),
                page.Uploads.Select(u => Line(u.Key, 0, u.InitiatedUtc!.Value) + " " + u.UploadId));
            Assert.Equal(2, page.Uploads.Count);
            Assert.False(page.IsTruncated);
        }

        [S3Fact]
        public void ACompletionTheServerRefusesFails()
        {
            var bucket = Server.NewBucket();
            using var s3 = new S3Connection(Server.Options());
            var id = s3.Direct!.CreateUploadAsync(bucket, "k", new List<KeyValuePair<string, string>>(), None).GetAwaiter().GetResult();
            var e = Assert.ThrowsAny<Exception>(() => s3.Direct!.CompleteUploadAsync(bucket, "k", id, new[] { new KeyValuePair<int, string>(1, "\"0123\"") }, None).GetAwaiter().GetResult());
            Assert.Contains("InvalidPart", e.Message);
        }

        [S3Fact]
        public void ARequestRefusedDirectlyIsMadeAgainByTheSdkWhoseErrorIsReported()
        {
            var bucket = Server.NewBucket();
            var log = new ListLog();
            using var store = new S3Store($"s3://{bucket}/", Server.Options(secret: "wrong-secret"), log);
            var e = Assert.Throws<PgBackupException>(() => store.List(null, None));
            Assert.Equal(ErrorIds.S3AccessDenied, e.ErrorId);
            Assert.Null(store.Connection.Direct);
            var said = Assert.Single(log.Messages);
            Assert.StartsWith($"Could not list s3://{bucket}/ directly (The server answered 403", said);
            Assert.EndsWith("; the AWS SDK makes this request and the rest.", said);
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
            Environment.SetEnvironmentVariable(S3Direct.DisableVariable, "1");
            try
            {
                using var store = new S3Store($"s3://{bucket}/", Server.Options(partSizeMiB: 5, concurrency: 2), log);
                UploadAndReadBack(store, RandomBytes((6 << 20) + 1), upload =>
                {
                    Assert.Equal(0, upload.DirectParts);
                    Assert.Equal(new[] { $"The parts of s3://{bucket}/{Name} go through the AWS SDK: PGBACKUP_S3_SDK=1." }, log.Messages);
                });
            }
            finally { Environment.SetEnvironmentVariable(S3Direct.DisableVariable, null); }
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
