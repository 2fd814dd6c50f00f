using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>
    /// Copy-PgBackup: copies backups between folders and buckets (both directions, and bucket to bucket), data first and
    /// manifest last, checking the SHA-256 on the way; writes the new copies.
    /// </summary>
    [Cmdlet(VerbsCommon.Copy, "PgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "InputObject")]
    [OutputType(typeof(BackupInfo))]
    public sealed class CopyPgBackupCommand : PgBackupStorageWriteCmdlet
    {
        private static readonly string[] DestinationParameterNames =
            { nameof(DestinationS3Credential), nameof(DestinationProfileName), nameof(DestinationRegion), nameof(DestinationEndpointUrl) };
        private static readonly string[] DestinationAzureParameterNames =
            { nameof(DestinationAzureSasToken), nameof(DestinationAzureConnectionString), nameof(DestinationAzureAccountKey), nameof(DestinationAzureEndpointUrl) };

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = System.Array.Empty<string>();

        [Parameter(Mandatory = true, ParameterSetName = "InputObject", ValueFromPipeline = true)]
        public BackupInfo? InputObject { get; set; }

        /// <summary>A folder or an s3:// prefix.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; } = "";

        [Parameter]
        [Credential]
        public PSCredential? DestinationS3Credential { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? DestinationProfileName { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? DestinationRegion { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? DestinationEndpointUrl { get; set; }

        /// <summary>A SAS token for an Azure Blob destination that needs another credential than the source.</summary>
        [Parameter]
        public System.Security.SecureString? DestinationAzureSasToken { get; set; }

        [Parameter]
        public System.Security.SecureString? DestinationAzureConnectionString { get; set; }

        [Parameter]
        public System.Security.SecureString? DestinationAzureAccountKey { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? DestinationAzureEndpointUrl { get; set; }

        /// <summary>The passphrase of an encrypted backup: the copy is then also decrypted on its way, to prove it opens.</summary>
        [Parameter]
        public System.Security.SecureString? Passphrase { get; set; }

        /// <summary>The secret key file for a backup encrypted to a public key.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SecretKeyPath { get; set; }

        [Parameter]
        public System.Security.SecureString? SecretKeyPassphrase { get; set; }

        /// <summary>A public key file: only a backup whose manifest is signed by one of its keys is copied.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? VerifyKey { get; set; }

        /// <summary>Replace a backup of the same name at the destination.</summary>
        [Parameter] public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            if (InputObject is not null) { Copy(InputObject.Path, StorageOptionsFor(InputObject)); return; }
            var options = StorageOptions();
            foreach (var p in Path) Copy(ResolvePath(p), options);
        }

        /// <summary>
        /// The destination's settings: the -Destination* S3 parameters when any is given; otherwise this command's S3
        /// parameters when any is given; otherwise the source's (a bucket-to-bucket copy with the same credentials). The
        /// -DestinationAzure* parameters, when any is given, replace the Azure settings of that choice.
        /// </summary>
        private StoreOptions DestinationOptions(StoreOptions source)
        {
            StoreOptions options;
            if (DestinationParameterNames.Any(Given))
                options = BuildOptions(DestinationS3Credential, DestinationProfileName, DestinationRegion, DestinationEndpointUrl, S3AddressingStyle, S3ChecksumMode, S3TimeoutSeconds, this);
            else if (StorageParametersGiven) options = StorageOptions();
            else options = source.WithUploadSettingsOf(UploadSettings());
            if (!DestinationAzureParameterNames.Any(Given)) return options;
            return options.WithAzureSettingsOf(new StoreOptions
            {
                AzureSasToken = Secret(DestinationAzureSasToken),
                AzureConnectionString = Secret(DestinationAzureConnectionString),
                AzureAccountKey = Secret(DestinationAzureAccountKey),
                AzureEndpointUrl = DestinationAzureEndpointUrl,
            });
        }

        private void Copy(string path, StoreOptions sourceOptions)
        {
            var destination = ResolvePath(Destination);
            var destinationOptions = DestinationOptions(sourceOptions);
            var name = System.IO.Path.GetFileName(path.TrimEnd('/', '\\'));
            var action = Force ? $"Copy backup {name} (replacing a copy of the same name)" : $"Copy backup {name}";
            if (!ShouldProcess(destination, action)) return;
            var signing = LoadSigningKey(SigningKey, SigningKeyPassphrase);
            using var decryption = Decryption(Passphrase, SecretKeyPath, SecretKeyPassphrase);
            if (TryRun((log, ct) => BackupCopier.Copy(new CopyRequest
                {
                    SourcePath = path,
                    SourceOptions = sourceOptions,
                    Destination = destination,
                    DestinationOptions = destinationOptions,
                    Force = Force,
                    Decryption = decryption,
                    VerifyKey = Verifier(VerifyKey),
                    Signing = signing,
                }, log, ct), path, out var copy))
                WriteObject(copy);
        }
    }
}
