using System;

namespace PgBackup
{
    /// <summary>How to address buckets: in the path (<c>https://endpoint/bucket/key</c>) or in the host name.</summary>
    public enum S3AddressingStyle
    {
        /// <summary>Path style for a custom endpoint (-EndpointUrl), virtual-hosted style for AWS.</summary>
        Auto,
        Path,
        VirtualHosted,
    }

    /// <summary>When the AWS SDK adds its own checksums (CRC32 trailers) to uploads.</summary>
    public enum S3ChecksumMode
    {
        /// <summary>WhenRequired for a custom endpoint (-EndpointUrl), WhenSupported for AWS.</summary>
        Auto,
        /// <summary>Only where the operation requires one: what most S3-compatible services accept.</summary>
        WhenRequired,
        /// <summary>On every upload (AWS S3's default; several S3-compatible services reject these uploads).</summary>
        WhenSupported,
    }

    /// <summary>Server-side encryption of uploaded objects.</summary>
    public enum S3ServerSideEncryption
    {
        /// <summary>The bucket's default.</summary>
        None,
        /// <summary>SSE-S3: keys managed by the storage service (<c>AES256</c>).</summary>
        AES256,
        /// <summary>SSE-KMS: keys in AWS KMS (<c>aws:kms</c>), optionally a given key (-KmsKeyId).</summary>
        KMS,
    }

    /// <summary>The access tier of uploaded Azure blobs; Archive is refused for backups (see <see cref="StoreOptions.Validate"/>).</summary>
    public enum AzureAccessTier
    {
        /// <summary>The storage account's default tier.</summary>
        Default,
        Hot,
        Cool,
        Cold,
        /// <summary>Refused: an archived blob cannot be read for hours (rehydration), so the backup cannot be restored quickly.</summary>
        Archive,
    }

    /// <summary>
    /// Settings for opening a store. Only s3:// locations use them: credentials, region, endpoint and the upload's
    /// settings. They travel with the objects that a listing returns (hidden), so that piped objects reach their store
    /// again; <see cref="ToString"/> never shows a secret.
    /// </summary>
    public sealed class StoreOptions
    {
        public const int MinPartSizeBytes = 5 << 20;
        public const int DefaultPartSizeBytes = MinPartSizeBytes;
        public const int MaxPartSizeBytes = 512 << 20;
        public const int DefaultUploadConcurrency = 2;
        public const int DefaultTimeoutSeconds = 600;
        public const int MaxTimeoutSeconds = 86400;

        public static readonly StoreOptions Default = new StoreOptions();

        /// <summary>Access key id (with <see cref="SecretKey"/>); null for the AWS default credential chain or a profile.</summary>
        public string? AccessKey { get; init; }
        public string? SecretKey { get; init; }
        /// <summary>Session token of temporary credentials (with AccessKey and SecretKey).</summary>
        public string? SessionToken { get; init; }
        /// <summary>A profile in the AWS shared credentials and config files.</summary>
        public string? ProfileName { get; init; }
        public string? Region { get; init; }
        /// <summary>An S3-compatible service's endpoint (https://...); null for AWS (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).</summary>
        public string? EndpointUrl { get; init; }
        public S3AddressingStyle AddressingStyle { get; init; } = S3AddressingStyle.Auto;
        public S3ChecksumMode ChecksumMode { get; init; } = S3ChecksumMode.Auto;
        public S3ServerSideEncryption ServerSideEncryption { get; init; } = S3ServerSideEncryption.None;
        public string? KmsKeyId { get; init; }
        /// <summary>The storage class of uploaded objects (STANDARD, STANDARD_IA, ...); null for the bucket's default.</summary>
        public string? StorageClass { get; init; }
        /// <summary>The size of one part of a multipart upload (at least 5 MiB); memory is about this times (concurrency + 1).</summary>
        public int PartSizeBytes { get; init; } = DefaultPartSizeBytes;
        /// <summary>Parts uploaded at the same time while the next one fills.</summary>
        public int UploadConcurrency { get; init; } = DefaultUploadConcurrency;
        /// <summary>
        /// How long one request may wait for its answer (an upload part: sent and answered), and one read of a download
        /// for data, before it counts as failed. The AWS SDK sets no limit for S3 of its own, so a server that stops
        /// answering (a full Ceph or MinIO cluster blocks writes) would otherwise hold a backup for ever.
        /// </summary>
        public int TimeoutSeconds { get; init; } = DefaultTimeoutSeconds;
        /// <summary>How often the SDK retries a failed request (null: the SDK's default).</summary>
        public int? MaxErrorRetry { get; init; }
        /// <summary>An Azure SAS token (with or without its leading '?'); see <see cref="AzureConnection"/> for the order.</summary>
        public string? AzureSasToken { get; init; }
        /// <summary>An Azure Storage connection string (it names the account, its key or SAS, and maybe its endpoint).</summary>
        public string? AzureConnectionString { get; init; }
        /// <summary>The storage account's key (Shared Key).</summary>
        public string? AzureAccountKey { get; init; }
        /// <summary>The blob service's address, for Azurite (http://127.0.0.1:10000/devstoreaccount1) and sovereign clouds.</summary>
        public string? AzureEndpointUrl { get; init; }
        public AzureAccessTier AccessTier { get; init; } = AzureAccessTier.Default;

        /// <summary>Share HTTP connections with other clients of the same settings (off for tests of rejected uploads).</summary>
        public bool CacheHttpClient { get; init; } = true;
        /// <summary>For tests: the TLS versions to ask for as on a Windows PowerShell 5.1 host (null: <see cref="TlsPolicy.Current"/>).</summary>
        internal System.Security.Authentication.SslProtocols? ForceTlsProtocols { get; init; }

        /// <summary>The endpoint in force: -EndpointUrl, else $env:AWS_ENDPOINT_URL_S3, else $env:AWS_ENDPOINT_URL; null for AWS.</summary>
        public string? EffectiveEndpointUrl
        {
            get
            {
                if (!string.IsNullOrWhiteSpace(EndpointUrl)) return EndpointUrl!.Trim();
                foreach (var name in new[] { "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL" })
                {
                    var v = Environment.GetEnvironmentVariable(name);
                    if (!string.IsNullOrWhiteSpace(v)) return v!.Trim();
                }
                return null;
            }
        }

        public bool UsesPathStyle => AddressingStyle == S3AddressingStyle.Path ||
                                     (AddressingStyle == S3AddressingStyle.Auto && EffectiveEndpointUrl is not null);

        public bool ChecksumsWhenRequired => ChecksumMode == S3ChecksumMode.WhenRequired ||
                                             (ChecksumMode == S3ChecksumMode.Auto && EffectiveEndpointUrl is not null);

        /// <summary>
        /// Every part of a multipart upload but the last has the same size. Cloudflare R2 (and Garage) refuse uploads
        /// whose parts differ ("All non-trailing parts must have the same length"), so for R2 endpoints parts never grow:
        /// such an upload holds at most 10,000 parts of <see cref="PartSizeBytes"/>.
        /// </summary>
        public bool UniformParts
        {
            get
            {
                var endpoint = EffectiveEndpointUrl;
                return endpoint is not null && System.Uri.TryCreate(endpoint, UriKind.Absolute, out var u)
                       && u.Host.EndsWith(".r2.cloudflarestorage.com", StringComparison.OrdinalIgnoreCase);
            }
        }

        /// <summary>Throws InvalidParameter for settings that cannot work.</summary>
        public void Validate()
        {
            if (PartSizeBytes < MinPartSizeBytes || PartSizeBytes > MaxPartSizeBytes)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"The S3 part size must be between {MinPartSizeBytes >> 20} and {MaxPartSizeBytes >> 20} MiB; {PartSizeBytes >> 20} MiB was given.");
            if (UploadConcurrency < 1 || UploadConcurrency > 16)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"The S3 upload concurrency must be between 1 and 16; {UploadConcurrency} was given.");
            if (TimeoutSeconds < 1 || TimeoutSeconds > MaxTimeoutSeconds)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"The S3 timeout must be between 1 and {MaxTimeoutSeconds} seconds; {TimeoutSeconds} was given.");
            if ((AccessKey is null) != (SecretKey is null))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "An S3 access key needs its secret key, and the other way round.");
            if (AccessKey is not null && ProfileName is not null)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "Give either -S3Credential or -ProfileName, not both.");
            if (KmsKeyId is not null && ServerSideEncryption != S3ServerSideEncryption.KMS)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "-KmsKeyId needs -ServerSideEncryption KMS.");
            if (AccessTier == AzureAccessTier.Archive)
                throw new PgBackupException(ErrorIds.AzureAccessTierRefused, ErrorKind.InvalidArgument,
                    "-AccessTier Archive is refused for backups: an archived blob cannot be read until it is rehydrated, which takes hours, so such a backup cannot be restored or checked when it is needed. Use Cool or Cold, and move old backups to Archive with a lifecycle management rule if they are kept only for compliance.")
                { RecommendedAction = "Give -AccessTier Hot, Cool or Cold." };
            int secrets = (AzureSasToken is null ? 0 : 1) + (AzureConnectionString is null ? 0 : 1) + (AzureAccountKey is null ? 0 : 1);
            if (secrets > 1)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "Give one of -AzureSasToken, -AzureConnectionString and -AzureAccountKey, not several.");
            if (AzureEndpointUrl is not null && (!System.Uri.TryCreate(AzureEndpointUrl, UriKind.Absolute, out var az) || (az.Scheme != "http" && az.Scheme != "https") || az.Query.Length > 0))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    "The Azure endpoint is not an http:// or https:// address without a query string (for example https://myaccount.blob.core.usgovcloudapi.net or http://127.0.0.1:10000/devstoreaccount1).");
            var endpoint = EffectiveEndpointUrl;
            if (endpoint is not null && (!System.Uri.TryCreate(endpoint, UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https")))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"The S3 endpoint '{endpoint}' is not an http:// or https:// URL (for example https://s3.us-west-004.backblazeb2.com).", endpoint);
        }

        /// <summary>A copy with the upload settings of <paramref name="upload"/> (part size, concurrency, encryption, storage class).</summary>
        public StoreOptions WithUploadSettingsOf(StoreOptions upload) => Copy(upload, TimeoutSeconds);

        /// <summary>A copy with the Azure settings (credentials, endpoint) of <paramref name="azure"/>, and the S3 ones of this.</summary>
        public StoreOptions WithAzureSettingsOf(StoreOptions azure) => new StoreOptions
        {
            AccessKey = AccessKey, SecretKey = SecretKey, SessionToken = SessionToken, ProfileName = ProfileName, Region = Region,
            EndpointUrl = EndpointUrl, AddressingStyle = AddressingStyle, ChecksumMode = ChecksumMode, MaxErrorRetry = MaxErrorRetry,
            CacheHttpClient = CacheHttpClient, TimeoutSeconds = TimeoutSeconds,
            ServerSideEncryption = ServerSideEncryption, KmsKeyId = KmsKeyId, StorageClass = StorageClass,
            PartSizeBytes = PartSizeBytes, UploadConcurrency = UploadConcurrency, AccessTier = AccessTier, ForceTlsProtocols = ForceTlsProtocols,
            AzureSasToken = azure.AzureSasToken, AzureConnectionString = azure.AzureConnectionString, AzureAccountKey = azure.AzureAccountKey,
            AzureEndpointUrl = azure.AzureEndpointUrl,
        };

        /// <summary>A copy with another request timeout.</summary>
        public StoreOptions WithTimeout(int seconds) => Copy(this, seconds);

        private StoreOptions Copy(StoreOptions upload, int timeoutSeconds) => new StoreOptions
        {
            AccessKey = AccessKey, SecretKey = SecretKey, SessionToken = SessionToken, ProfileName = ProfileName, Region = Region,
            EndpointUrl = EndpointUrl, AddressingStyle = AddressingStyle, ChecksumMode = ChecksumMode, MaxErrorRetry = MaxErrorRetry,
            CacheHttpClient = CacheHttpClient, TimeoutSeconds = timeoutSeconds, ForceTlsProtocols = ForceTlsProtocols,
            AzureSasToken = AzureSasToken, AzureConnectionString = AzureConnectionString, AzureAccountKey = AzureAccountKey,
            AzureEndpointUrl = AzureEndpointUrl, AccessTier = upload.AccessTier,
            ServerSideEncryption = upload.ServerSideEncryption, KmsKeyId = upload.KmsKeyId, StorageClass = upload.StorageClass,
            PartSizeBytes = upload.PartSizeBytes, UploadConcurrency = upload.UploadConcurrency,
        };

        /// <summary>The settings without secrets (for verbose lines).</summary>
        public override string ToString()
        {
            var who = AccessKey is not null ? $"access key {AccessKey}" : ProfileName is not null ? $"profile '{ProfileName}'" : "the AWS default credentials";
            var where = EffectiveEndpointUrl ?? "AWS";
            return $"{where}, {who}, region {Region ?? "(default)"}, {(UsesPathStyle ? "path" : "virtual-hosted")}-style, checksums {(ChecksumsWhenRequired ? "when required" : "when supported")}";
        }
    }
}
