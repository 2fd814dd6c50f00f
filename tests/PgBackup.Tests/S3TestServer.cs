using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// The S3 gateway that build.ps1 started (PGBACKUP_TEST_S3, JSON). Without it, [S3Fact] tests are skipped and say
    /// why; build.ps1 -Task Test always starts it, so they run in CI.
    /// </summary>
    public sealed class S3TestServer
    {
        public string Endpoint { get; init; } = "";
        public string Region { get; init; } = "us-east-1";
        public string AccessKey { get; init; } = "";
        public string SecretKey { get; init; } = "";
        public string OtherAccessKey { get; init; } = "";
        public string OtherSecretKey { get; init; } = "";
        public int Port { get; init; }

        public static readonly S3TestServer? Current = Load();

        /// <summary>Test data: <paramref name="n"/> bytes, the same for the same length.</summary>
        public static byte[] RandomBytes(int n)
        {
            var b = new byte[n];
            new Random(n).NextBytes(b);
            return b;
        }

        public static string Sha(byte[] b) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(b)).ToLowerInvariant();

        /// <summary>A stored object, read back through the store.</summary>
        public static byte[] ReadAll(IBackupStore store, string name)
        {
            using var s = store.OpenRead(name, System.Threading.CancellationToken.None);
            using var ms = new System.IO.MemoryStream();
            s.CopyTo(ms);
            return ms.ToArray();
        }

        private static S3TestServer? Load()
        {
            var json = Environment.GetEnvironmentVariable("PGBACKUP_TEST_S3");
            if (string.IsNullOrWhiteSpace(json)) return null;
            return JsonSerializer.Deserialize<S3TestServer>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true });
        }

        public StoreOptions Options(int partSizeMiB = 5, int concurrency = 2, string? endpoint = null, string? secret = null, string? access = null) => new StoreOptions
        {
            AccessKey = access ?? AccessKey,
            SecretKey = secret ?? SecretKey,
            EndpointUrl = endpoint ?? Endpoint,
            Region = Region,
            PartSizeBytes = partSizeMiB << 20,
            UploadConcurrency = concurrency,
            MaxErrorRetry = 1,
            CacheHttpClient = secret is null && endpoint is null,
        };

        public AmazonS3Client Client() => new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
        {
            ServiceURL = Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

        /// <summary>A new, empty bucket with a unique name.</summary>
        public string NewBucket(string prefix = "xunit")
        {
            var name = prefix + "-" + Guid.NewGuid().ToString("n").Substring(0, 12);
            using var c = Client();
            c.PutBucketAsync(new PutBucketRequest { BucketName = name }).GetAwaiter().GetResult();
            return name;
        }

        public static List<string> Keys(AmazonS3Client c, string bucket, string prefix = "")
        {
            var keys = new List<string>();
            string? token = null;
            do
            {
                var page = c.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = token }).GetAwaiter().GetResult();
                keys.AddRange((page.S3Objects ?? new List<S3Object>()).Select(o => o.Key));
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            } while (token is not null);
            return keys;
        }

        public static List<string> Uploads(AmazonS3Client c, string bucket) =>
            (c.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket }).GetAwaiter().GetResult().MultipartUploads ?? new List<MultipartUpload>())
            .Select(u => u.Key).ToList();

        /// <summary>Puts many small objects, several at a time.</summary>
        public static void PutMany(AmazonS3Client c, string bucket, IEnumerable<string> keys, int parallel = 16)
        {
            Parallel.ForEach(keys, new ParallelOptions { MaxDegreeOfParallelism = parallel }, key =>
                c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = "x" }).GetAwaiter().GetResult());
        }
    }

    /// <summary>A fact that needs the test S3 server.</summary>
    public sealed class S3FactAttribute : FactAttribute
    {
        public S3FactAttribute()
        {
            if (S3TestServer.Current is null) Skip = "No test S3 server: run the tests with build.ps1 -Task Test, which starts one (PGBACKUP_TEST_S3).";
        }
    }

    /// <summary>A theory that needs the test S3 server.</summary>
    public sealed class S3TheoryAttribute : TheoryAttribute
    {
        public S3TheoryAttribute()
        {
            if (S3TestServer.Current is null) Skip = "No test S3 server: run the tests with build.ps1 -Task Test, which starts one (PGBACKUP_TEST_S3).";
        }
    }

    /// <summary>Test classes that upload to S3 and read or set the process's S3 settings run one after the other.</summary>
    [CollectionDefinition(Name)]
    public sealed class S3UploadsCollection
    {
        public const string Name = "S3 uploads";
    }
}
