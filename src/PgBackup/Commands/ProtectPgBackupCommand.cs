using System.Linq;
using System.Management.Automation;
using System.Security;

namespace PgBackup.Commands
{
    /// <summary>Protect-PgBackup: encrypts existing backups (OpenPGP) and updates their manifests.</summary>
    [Cmdlet(VerbsSecurity.Protect, "PgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "InputObject")]
    [OutputType(typeof(BackupInfo))]
    public sealed class ProtectPgBackupCommand : PgBackupVerifyingCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = System.Array.Empty<string>();

        [Parameter(Mandatory = true, ParameterSetName = "InputObject", ValueFromPipeline = true)]
        public BackupInfo? InputObject { get; set; }

        [Parameter]
        public SecureString? Passphrase { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? Recipient { get; set; }

        [Parameter] public SwitchParameter KeepOriginal { get; set; }

        /// <summary>A secret key file: the new manifest is signed with it.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SigningKey { get; set; }

        [Parameter]
        public SecureString? SigningKeyPassphrase { get; set; }

        protected override void BeginProcessing()
        {
            if ((Passphrase is null) == (Recipient is null))
                Fail(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "Give either -Passphrase or -Recipient (public key files).");
        }

        protected override void ProcessRecord()
        {
            if (InputObject is not null) { One(InputObject.Path, StorageOptionsFor(InputObject)); return; }
            var options = StorageOptions();
            foreach (var p in Path) One(ResolvePath(p), options);
        }

        private void One(string path, StoreOptions options)
        {
            if (!ShouldProcess(path, KeepOriginal ? "Encrypt into a new backup (.gpg)" : "Encrypt (the unencrypted original is removed)")) return;
            using var settings = new EncryptionSettings
            {
                Passphrase = Chars(Passphrase),
                RecipientKeyFiles = (Recipient ?? System.Array.Empty<string>()).Select(ResolvePath).ToArray(),
            };
            var signing = LoadSigningKey(SigningKey, SigningKeyPassphrase);
            if (TryRun((log, ct) => BackupProtector.Protect(path, options, settings, signing, Verifier(), KeepOriginal, ModuleVersion, log, ct), path, out var result))
                WriteObject(result);
        }
    }
}
