using System.Management.Automation;
using System.Security;

namespace PgBackup.Commands
{
    /// <summary>
    /// The base of cmdlets that read what is inside a backup (Restore-, Test-, Unprotect-PgBackup, Export-PgBackupData):
    /// backups from the pipeline, and the secrets that open an encrypted one. Copy-PgBackup declares the same secret
    /// parameters itself, because it uploads as well (<see cref="PgBackupStorageWriteCmdlet"/>).
    /// </summary>
    public abstract class PgBackupReadCmdlet : PgBackupVerifyingCmdlet
    {
        /// <summary>Backups from Get-PgBackup or New-PgBackup (the pipeline); each cmdlet declares its own -Path.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "InputObject", ValueFromPipeline = true)]
        public BackupInfo? InputObject { get; set; }

        /// <summary>The passphrase of an encrypted backup.</summary>
        [Parameter]
        public SecureString? Passphrase { get; set; }

        /// <summary>The secret key file for a backup encrypted to a public key.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SecretKeyPath { get; set; }

        /// <summary>The passphrase of the secret key in -SecretKeyPath.</summary>
        [Parameter]
        public SecureString? SecretKeyPassphrase { get; set; }

        /// <summary>The decryption settings from these parameters (none when none was given).</summary>
        protected DecryptionSettings DecryptionFromParameters() => Decryption(Passphrase, SecretKeyPath, SecretKeyPassphrase);
    }

    /// <summary>
    /// The base of cmdlets that read backups (Get-, Restore-, Test-, Protect-, Unprotect-PgBackup, Export-PgBackupData,
    /// Invoke-PgBackupRetention): -VerifyKey, the public keys whose signatures they require. Copy-PgBackup declares it
    /// itself, because it uploads as well.
    /// </summary>
    public abstract class PgBackupVerifyingCmdlet : PgBackupStorageCmdlet
    {
        /// <summary>A public key file: only backups whose manifest is signed by one of its keys are used.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? VerifyKey { get; set; }

        /// <summary>The keys of -VerifyKey, or null when it was not given.</summary>
        protected SignatureVerifier? Verifier() => Verifier(VerifyKey);
    }

    /// <summary>
    /// The base of cmdlets that restore a backup into a server (Restore-, Test-PgBackup -Restore, Export-PgBackupData):
    /// the server and the PostgreSQL client programs to use.
    /// </summary>
    public abstract class PgBackupRestoringCmdlet : PgBackupReadCmdlet
    {
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConnectionString { get; set; }

        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PgBinPath { get; set; }
    }
}
