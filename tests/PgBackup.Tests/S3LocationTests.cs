using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public sealed class S3LocationTests
    {
        [Theory]
        [InlineData("s3://bucket", "bucket", "", "s3://bucket/")]
        [InlineData("s3://bucket/", "bucket", "", "s3://bucket/")]
        [InlineData("s3://my.bucket-1/backups", "my.bucket-1", "backups/", "s3://my.bucket-1/backups/")]
        [InlineData("S3://bucket/a/b/", "bucket", "a/b/", "s3://bucket/a/b/")]
        [InlineData("s3://bucket/Prod DB/ü", "bucket", "Prod DB/ü/", "s3://bucket/Prod DB/ü/")]
        public void ParsesLocations(string uri, string bucket, string prefix, string normal)
        {
            var l = S3Location.Parse(uri);
            Assert.Equal(bucket, l.Bucket);
            Assert.Equal(prefix, l.Prefix);
            Assert.Equal(normal, l.ToString());
            Assert.Equal(prefix + "backup_x_20260101_000000.sql.gz", l.Key("backup_x_20260101_000000.sql.gz"));
        }

        [Theory]
        [InlineData("s3://b1/p/backup_app_20260101_030000.sql.gz", "s3://b1/p/", "backup_app_20260101_030000.sql.gz")]
        [InlineData("s3://b1/backup_app_20260101_030000.dump", "s3://b1/", "backup_app_20260101_030000.dump")]
        [InlineData("s3://b1/a/b/backup_app_20260101_030000.dir/", "s3://b1/a/b/", "backup_app_20260101_030000.dir")]
        public void SplitsObjectUris(string uri, string location, string name)
        {
            var (l, n) = S3Location.ParseObject(uri);
            Assert.Equal(location, l.ToString());
            Assert.Equal(name, n);
            Assert.Equal(uri.TrimEnd('/'), l.Uri(n));
        }

        [Theory]
        [InlineData("s3://")]
        [InlineData("s3:///prefix")]
        [InlineData("s3://a/x")]
        [InlineData("s3://bad_bucket!/x")]
        [InlineData("s3://bucket/a//b")]
        [InlineData("s3://bucket/a/../b")]
        [InlineData("s3://bucket/a\\b")]
        [InlineData("https://bucket/a")]
        public void RefusesInvalidUris(string uri)
        {
            var e = Assert.Throws<PgBackupException>(() => S3Location.Parse(uri));
            Assert.Equal(ErrorIds.S3InvalidUri, e.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        }

        [Fact]
        public void AnObjectUriMustNameMoreThanTheBucket()
        {
            var e = Assert.Throws<PgBackupException>(() => S3Location.ParseObject("s3://bucket/"));
            Assert.Equal(ErrorIds.S3InvalidUri, e.ErrorId);
        }

        [Fact]
        public void OptionsDeriveAddressingAndChecksumsFromTheEndpoint()
        {
            var aws = new StoreOptions { Region = "eu-central-1" };
            var custom = new StoreOptions { EndpointUrl = "https://s3.us-west-004.backblazeb2.com" };
            if (System.Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_S3") is null && System.Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL") is null)
            {
                Assert.False(aws.UsesPathStyle);
                Assert.False(aws.ChecksumsWhenRequired);
            }
            Assert.True(custom.UsesPathStyle);
            Assert.True(custom.ChecksumsWhenRequired);
            Assert.False(new StoreOptions { EndpointUrl = "https://x.r2.cloudflarestorage.com", AddressingStyle = S3AddressingStyle.VirtualHosted }.UsesPathStyle);
            Assert.False(new StoreOptions { EndpointUrl = "https://x", ChecksumMode = S3ChecksumMode.WhenSupported }.ChecksumsWhenRequired);
            var secret = new StoreOptions { AccessKey = "AKIAEXAMPLE", SecretKey = "very-secret-value" };
            Assert.DoesNotContain("very-secret-value", secret.ToString());
            Assert.Throws<PgBackupException>(() => new StoreOptions { PartSizeBytes = 1 << 20 }.Validate());
            Assert.Throws<PgBackupException>(() => new StoreOptions { EndpointUrl = "ftp://x" }.Validate());
            Assert.Throws<PgBackupException>(() => new StoreOptions { AccessKey = "a" }.Validate());
            Assert.Throws<PgBackupException>(() => new StoreOptions { KmsKeyId = "k" }.Validate());
            Assert.Throws<PgBackupException>(() => new StoreOptions { TimeoutSeconds = 0 }.Validate());
            Assert.Throws<PgBackupException>(() => new StoreOptions { TimeoutSeconds = StoreOptions.MaxTimeoutSeconds + 1 }.Validate());
        }

        [Fact]
        public void TimeoutHasADefaultAndTravelsWithCopies()
        {
            Assert.Equal(600, new StoreOptions().TimeoutSeconds);
            var listed = new StoreOptions { AccessKey = "a", SecretKey = "s", EndpointUrl = "http://x", TimeoutSeconds = 30, PartSizeBytes = 8 << 20 };
            var faster = listed.WithTimeout(5);
            Assert.Equal(5, faster.TimeoutSeconds);
            Assert.Equal(("a", "s", "http://x", 8 << 20), (faster.AccessKey, faster.SecretKey, faster.EndpointUrl, faster.PartSizeBytes));
            var upload = listed.WithUploadSettingsOf(new StoreOptions { PartSizeBytes = 16 << 20, TimeoutSeconds = 999 });
            Assert.Equal(30, upload.TimeoutSeconds);
            Assert.Equal(16 << 20, upload.PartSizeBytes);
        }

        [Fact]
        public void PartsGrowExceptWhereTheServiceNeedsUniformParts()
        {
            const int mib8 = 8 << 20;
            Assert.Equal(mib8, S3UploadStream.PartSizeOf(1, mib8, uniform: false));
            Assert.Equal(mib8, S3UploadStream.PartSizeOf(S3UploadStream.PartsPerSize, mib8, uniform: false));
            Assert.Equal(2 * mib8, S3UploadStream.PartSizeOf(S3UploadStream.PartsPerSize + 1, mib8, uniform: false));
            Assert.Equal(1 << 30, S3UploadStream.PartSizeOf(S3UploadStream.MaxParts, 512 << 20, uniform: false));
            // Cloudflare R2 refuses parts of different sizes: there they never grow.
            Assert.Equal(mib8, S3UploadStream.PartSizeOf(S3UploadStream.MaxParts, mib8, uniform: true));
            Assert.True(new StoreOptions { EndpointUrl = "https://0123abcd.r2.cloudflarestorage.com" }.UniformParts);
            Assert.True(new StoreOptions { EndpointUrl = "https://0123abcd.eu.R2.cloudflarestorage.com/" }.UniformParts);
            Assert.False(new StoreOptions { EndpointUrl = "https://s3.us-west-004.backblazeb2.com" }.UniformParts);
        }
    }
}
