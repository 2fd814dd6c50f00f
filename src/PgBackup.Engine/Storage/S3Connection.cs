using System;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.S3;

namespace PgBackup
{
    /// <summary>
    /// An S3 client made from <see cref="StoreOptions"/>, and the one place where the SDK's exceptions become
    /// PgBackup errors with stable ids. No AWS type leaves the engine.
    /// </summary>
    internal sealed class S3Connection : StoreConnection, IDisposable
    {
        private readonly Redactor _redactor;

        public S3Connection(StoreOptions options)
            : base(options)
        {
            _redactor = new Redactor(new[] { options.SecretKey, options.SessionToken });
            var endpoint = options.EffectiveEndpointUrl;
            var config = new AmazonS3Config
            {
                ForcePathStyle = options.UsesPathStyle,
                RequestChecksumCalculation = options.ChecksumsWhenRequired ? RequestChecksumCalculation.WHEN_REQUIRED : RequestChecksumCalculation.WHEN_SUPPORTED,
                ResponseChecksumValidation = options.ChecksumsWhenRequired ? ResponseChecksumValidation.WHEN_REQUIRED : ResponseChecksumValidation.WHEN_SUPPORTED,
                CacheHttpClient = options.CacheHttpClient,
                // The SDK's own limit for S3 is about 24 days; a request gets TimeoutSeconds (then the SDK's retries).
                Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            };
            if (options.MaxErrorRetry.HasValue) config.MaxErrorRetry = options.MaxErrorRetry.Value;
            // TLS 1.2 on Windows PowerShell 5.1 hosts that would offer only SSL 3 and TLS 1.0 (TlsPolicy).
            var tls = options.ForceTlsProtocols ?? TlsPolicy.Current;
            if (tls is not null) config.HttpClientFactory = new TlsPolicy.AwsHttpClientFactory(tls.Value);

            AWSCredentials? credentials = null;
            RegionEndpoint? profileRegion = null;
            if (options.AccessKey is not null)
            {
                credentials = string.IsNullOrEmpty(options.SessionToken)
                    ? new BasicAWSCredentials(options.AccessKey, options.SecretKey)
                    : new SessionAWSCredentials(options.AccessKey, options.SecretKey, options.SessionToken);
            }
            else if (options.ProfileName is not null)
            {
                var chain = new CredentialProfileStoreChain();
                if (!chain.TryGetProfile(options.ProfileName, out var profile) || !chain.TryGetAWSCredentials(options.ProfileName, out credentials))
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"The AWS profile '{options.ProfileName}' was not found (or has no credentials) in the shared credentials and config files (~/.aws/credentials, ~/.aws/config, or AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE).",
                        options.ProfileName);
                profileRegion = profile.Region;
            }

            if (endpoint is not null)
            {
                config.ServiceURL = endpoint;
                // Signatures name a region; S3-compatible services accept any (Cloudflare R2 'auto', Backblaze 'us-west-004'...).
                config.AuthenticationRegion = options.Region ?? profileRegion?.SystemName ?? "us-east-1";
            }
            else
            {
                config.RegionEndpoint = options.Region is not null ? RegionEndpoint.GetBySystemName(options.Region)
                    : profileRegion ?? FallbackRegionFactory.GetRegionEndpoint() ?? RegionEndpoint.USEast1;
            }
            Endpoint = endpoint ?? "AWS S3 (" + (config.RegionEndpoint?.SystemName ?? "?") + ")";
            // Made on first use: a backup's first request runs beside its connection to PostgreSQL (BackupEngine), and
            // so does the client's costly start.
            _client = new Lazy<IAmazonS3>(() => credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config));
        }

        private readonly Lazy<IAmazonS3> _client;

        public IAmazonS3 Client => _client.Value;
        /// <summary>Where requests go, for messages.</summary>
        public string Endpoint { get; }

        public void Dispose()
        {
            if (_client.IsValueCreated) _client.Value.Dispose();
        }

        /// <summary>An SDK or network failure as a PgBackup error with a stable id (never with a secret in it).</summary>
        public override PgBackupException Map(Exception e, string what, string target, bool write)
        {
            while (e is AggregateException a && a.InnerExceptions.Count == 1) e = a.InnerException!;
            if (e is PgBackupException p) return p;
            string failedId = write ? UploadFailedId : ErrorIds.S3RequestFailed;
            string Say(string text) => _redactor.Redact(text);

            if (e is AmazonServiceException s)
            {
                var code = s.ErrorCode ?? "";
                var detail = $"{(int)s.StatusCode} {code}".Trim() + (string.IsNullOrEmpty(s.Message) ? "" : ": " + s.Message);
                switch (code)
                {
                    case "NoSuchBucket":
                        return new PgBackupException(ErrorIds.S3BucketNotFound, ErrorKind.ObjectNotFound,
                            Say($"The bucket of {target} does not exist at {Endpoint} ({detail})."), target, e)
                        { RecommendedAction = "Check the bucket's name, -EndpointUrl and -Region; PgBackup does not create buckets." };
                    case "InvalidAccessKeyId":
                    case "SignatureDoesNotMatch":
                    case "InvalidToken":
                    case "ExpiredToken":
                    case "TokenRefreshRequired":
                    case "AuthorizationHeaderMalformed" when s.StatusCode == HttpStatusCode.Forbidden:
                        return new PgBackupException(ErrorIds.S3AccessDenied, ErrorKind.AuthenticationError,
                            Say($"{Endpoint} refused the credentials while trying to {what} {target} ({detail})."), target, e)
                        { RecommendedAction = "Check -S3Credential (access key as user name, secret key as password), -ProfileName or the AWS_* environment variables." };
                    case "NoSuchKey":
                        return new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, Say($"{target} does not exist."), target, e);
                    case "PermanentRedirect":
                    case "IllegalLocationConstraintException":
                        return new PgBackupException(failedId, ErrorKind.InvalidArgument,
                            Say($"Could not {what} {target}: the bucket is in another region ({detail})."), target, e)
                        { RecommendedAction = "Give the bucket's region with -Region." };
                }
                if (s.StatusCode == HttpStatusCode.Forbidden || code == "AccessDenied" || code == "AllAccessDisabled")
                    return new PgBackupException(ErrorIds.S3AccessDenied, ErrorKind.PermissionDenied,
                        Say($"Access denied: could not {what} {target} ({detail})."), target, e)
                    { RecommendedAction = write ? "The credentials may read but not write here: check the bucket policy or the key's permissions (s3:PutObject, s3:AbortMultipartUpload, s3:DeleteObject)." : "Check the bucket policy or the key's permissions (s3:ListBucket, s3:GetObject)." };
                if (s.StatusCode == HttpStatusCode.NotFound)
                    return new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, Say($"{target} does not exist ({detail})."), target, e);
                return new PgBackupException(failedId, write ? ErrorKind.WriteError : ErrorKind.ReadError,
                    Say($"Could not {what} {target}: {detail}"), target, e);
            }
            if (e is AmazonClientException && e.Message.IndexOf("credential", StringComparison.OrdinalIgnoreCase) >= 0)
                return new PgBackupException(ErrorIds.S3AccessDenied, ErrorKind.AuthenticationError,
                    Say($"No AWS credentials for {target}: {e.Message}"), target, e)
                { RecommendedAction = "Give -S3Credential or -ProfileName, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or run where an instance or container role provides credentials)." };
            if (IsTimeout(e))
                return new PgBackupException(failedId, ErrorKind.OperationTimeout,
                    Say($"Could not {what} {target}: {Endpoint} did not answer within {Options.TimeoutSeconds} s (-S3TimeoutSeconds)."), target, e)
                { RecommendedAction = "Check the S3 server (a full Ceph or MinIO cluster stops answering writes) and the network; on a very slow link give a larger -S3TimeoutSeconds." };
            if (e is HttpRequestException || e is IOException || e is WebException || e is System.Net.Sockets.SocketException ||
                e is OperationCanceledException || e is AmazonClientException)
                return new PgBackupException(failedId, ErrorKind.ConnectionError,
                    Say($"Could not {what} {target}: the connection to {Endpoint} failed: {Innermost(e)}"), target, e)
                { RecommendedAction = "Check the network and -EndpointUrl; run the command again." };
            return new PgBackupException(failedId, write ? ErrorKind.WriteError : ErrorKind.ReadError, Say($"Could not {what} {target}: {e.Message}"), target, e);
        }

        public override string UploadFailedId => ErrorIds.S3UploadFailed;

        private static string Innermost(Exception e)
        {
            var messages = e.Message;
            for (var x = e.InnerException; x is not null; x = x.InnerException)
                if (!string.IsNullOrEmpty(x.Message) && messages.IndexOf(x.Message, StringComparison.Ordinal) < 0) messages += " " + x.Message;
            return messages;
        }
    }
}
