using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Unprotect-PgBackup: decrypts encrypted backups and updates their manifests.</summary>
    [Cmdlet(VerbsSecurity.Unprotect, "PgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "InputObject")]
    [OutputType(typeof(BackupInfo))]
    public sealed class UnprotectPgBackupCommand : PgBackupReadCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = System.Array.Empty<string>();

        [Parameter] public SwitchParameter KeepOriginal { get; set; }

        /// <summary>A secret key file: the new manifest is signed with it.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SigningKey { get; set; }

        [Parameter]
        public System.Security.SecureString? SigningKeyPassphrase { get; set; }

        protected override void BeginProcessing()
        {
            if (Passphrase is null && SecretKeyPath is null)
                Fail(ErrorIds.SecretKeyMissing, ErrorKind.InvalidArgument, "Give -Passphrase, or -SecretKeyPath (and -SecretKeyPassphrase).");
        }

        protected override void ProcessRecord()
        {
            if (InputObject is not null) { One(InputObject.Path, StorageOptionsFor(InputObject)); return; }
            var options = StorageOptions();
            foreach (var p in Path) One(ResolvePath(p), options);
        }

        private void One(string path, StoreOptions options)
        {
            if (!ShouldProcess(path, KeepOriginal ? "Decrypt into a new backup" : "Decrypt (the encrypted original is removed)")) return;
            using var settings = DecryptionFromParameters();
            var signing = LoadSigningKey(SigningKey, SigningKeyPassphrase);
            if (TryRun((log, ct) => BackupProtector.Unprotect(path, options, settings, signing, Verifier(), KeepOriginal, ModuleVersion, log, ct), path, out var result))
                WriteObject(result);
        }
    }
}
