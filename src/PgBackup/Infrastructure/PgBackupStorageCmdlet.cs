using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>
    /// The base of every cmdlet that takes a location: the settings for s3:// locations (credentials, region, endpoint,
    /// addressing, checksums) and for Azure Blob locations (SAS token, connection string or account key, endpoint).
    /// They are ignored for local folders. Objects listed from a bucket carry the settings they
    /// were listed with (hidden), so that piping them on needs no credentials again.
    /// </summary>
    public abstract class PgBackupStorageCmdlet : PgBackupCmdlet
    {
        internal static readonly string[] ConnectionParameterNames =
            { nameof(S3Credential), nameof(ProfileName), nameof(Region), nameof(EndpointUrl), nameof(S3AddressingStyle), nameof(S3ChecksumMode) };

        /// <summary>Access key id as user name, secret access key as password.</summary>
        [Parameter]
        [Credential]
        public PSCredential? S3Credential { get; set; }

        /// <summary>A profile of the AWS shared credentials and config files.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ProfileName { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Region { get; set; }

        /// <summary>The endpoint of an S3-compatible service (Backblaze B2, Cloudflare R2, Wasabi, MinIO, Ceph, GCS).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? EndpointUrl { get; set; }

        [Parameter]
        public S3AddressingStyle S3AddressingStyle { get; set; } = S3AddressingStyle.Auto;

        [Parameter]
        public S3ChecksumMode S3ChecksumMode { get; set; } = S3ChecksumMode.Auto;

        /// <summary>How long one S3 request may wait for its answer, and a download for data, before it fails.</summary>
        [Parameter]
        [ValidateRange(1, StoreOptions.MaxTimeoutSeconds)]
        public int S3TimeoutSeconds { get; set; } = StoreOptions.DefaultTimeoutSeconds;


        internal static readonly string[] AzureParameterNames =
            { nameof(AzureSasToken), nameof(AzureConnectionString), nameof(AzureAccountKey), nameof(AzureEndpointUrl) };

        /// <summary>A SAS token for Azure Blob locations (with or without its leading '?').</summary>
        [Parameter]
        public System.Security.SecureString? AzureSasToken { get; set; }

        /// <summary>An Azure Storage connection string (AccountName=...;AccountKey=... or ...;SharedAccessSignature=...).</summary>
        [Parameter]
        public System.Security.SecureString? AzureConnectionString { get; set; }

        /// <summary>The storage account's access key.</summary>
        [Parameter]
        public System.Security.SecureString? AzureAccountKey { get; set; }

        /// <summary>The blob service's address, for Azurite and sovereign clouds.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AzureEndpointUrl { get; set; }

        /// <summary>True when any of the S3 or Azure connection parameters was given.</summary>
        protected bool StorageParametersGiven => ConnectionParameterNames.Any(Given) || AzureParameterNames.Any(Given);

        /// <summary>The S3 and Azure settings from this cmdlet's parameters.</summary>
        protected virtual StoreOptions StorageOptions() => BuildOptions(S3Credential, ProfileName, Region, EndpointUrl, S3AddressingStyle, S3ChecksumMode, S3TimeoutSeconds, null);

        /// <summary>
        /// The settings for a piped object: this cmdlet's S3 parameters when any was given, otherwise those the object
        /// was listed with; the same for the Azure parameters (and -S3TimeoutSeconds, when given).
        /// </summary>
        protected StoreOptions StorageOptionsFor(BackupInfo? input)
        {
            if (input is null) return StorageOptions();
            bool s3 = ConnectionParameterNames.Any(Given), azure = AzureParameterNames.Any(Given);
            var listed = Given(nameof(S3TimeoutSeconds)) ? input.StoreOptions.WithTimeout(S3TimeoutSeconds) : input.StoreOptions;
            if (!s3 && !azure) return listed;
            if (s3 && azure) return StorageOptions();
            return azure ? listed.WithAzureSettingsOf(StorageOptions()) : StorageOptions().WithAzureSettingsOf(listed);
        }

        internal StoreOptions BuildOptions(PSCredential? credential, string? profile, string? region, string? endpoint,
            S3AddressingStyle addressing, S3ChecksumMode checksums, int timeoutSeconds, PgBackupStorageWriteCmdlet? upload)
        {
            bool hasCredential = credential is not null && credential != PSCredential.Empty;
            var options = new StoreOptions
            {
                AzureSasToken = Secret(AzureSasToken),
                AzureConnectionString = Secret(AzureConnectionString),
                AzureAccountKey = Secret(AzureAccountKey),
                AzureEndpointUrl = AzureEndpointUrl,
                AccessKey = hasCredential ? credential!.UserName : null,
                SecretKey = hasCredential ? credential!.GetNetworkCredential().Password : null,
                ProfileName = profile,
                Region = region,
                EndpointUrl = endpoint,
                AddressingStyle = addressing,
                ChecksumMode = checksums,
                TimeoutSeconds = timeoutSeconds,
            };
            if (upload is not null) options = options.WithUploadSettingsOf(upload.UploadSettings());
            return options;
        }

        /// <summary>A SecureString's text (null when not given or empty), only for the store's client.</summary>
        private protected static string? Secret(System.Security.SecureString? secret) => secret is null || secret.Length == 0 ? null : Plain(secret);
    }

    /// <summary>
    /// The base of cmdlets that write backups and upload them (New-PgBackup, Copy-PgBackup): the key that signs their
    /// manifests; server-side encryption, storage class, parts.
    /// </summary>
    public abstract class PgBackupStorageWriteCmdlet : PgBackupStorageCmdlet
    {
        /// <summary>A secret key file: the manifest is signed with it (&lt;name&gt;.json.sig, an OpenPGP detached signature).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SigningKey { get; set; }

        /// <summary>The passphrase of the secret key in -SigningKey.</summary>
        [Parameter]
        public System.Security.SecureString? SigningKeyPassphrase { get; set; }

        [Parameter]
        public S3ServerSideEncryption ServerSideEncryption { get; set; } = S3ServerSideEncryption.None;

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? KmsKeyId { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(StorageClassCompleter))]
        public string? StorageClass { get; set; }

        /// <summary>The access tier of uploaded Azure blobs (Hot, Cool, Cold; Archive is refused).</summary>
        [Parameter]
        public AzureAccessTier AccessTier { get; set; } = AzureAccessTier.Default;

        /// <summary>The size of each uploaded part (Azure: block) in MiB; memory is about this times (concurrency + 1).</summary>
        [Parameter]
        [ValidateRange(5, 512)]
        [Alias("BlockSizeMB")]
        public int S3PartSizeMB { get; set; } = StoreOptions.DefaultPartSizeBytes >> 20;

        [Parameter]
        [ValidateRange(1, 16)]
        public int S3UploadConcurrency { get; set; } = StoreOptions.DefaultUploadConcurrency;

        internal StoreOptions UploadSettings() => new StoreOptions
        {
            ServerSideEncryption = ServerSideEncryption,
            KmsKeyId = KmsKeyId,
            StorageClass = StorageClass,
            PartSizeBytes = S3PartSizeMB << 20,
            UploadConcurrency = S3UploadConcurrency,
            AccessTier = AccessTier,
        };

        protected override StoreOptions StorageOptions() => BuildOptions(S3Credential, ProfileName, Region, EndpointUrl, S3AddressingStyle, S3ChecksumMode, S3TimeoutSeconds, this);
    }

    /// <summary>Tab completion of the usual S3 storage classes (any other value is passed on as it is).</summary>
    public sealed class StorageClassCompleter : IArgumentCompleter
    {
        private static readonly string[] Classes = { "STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY" };

        public System.Collections.Generic.IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters) =>
            Classes.Where(c => c.StartsWith(wordToComplete ?? "", System.StringComparison.OrdinalIgnoreCase)).Select(c => new CompletionResult(c));
    }
}
