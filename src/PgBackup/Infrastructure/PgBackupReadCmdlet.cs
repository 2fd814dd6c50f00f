using System.Management.Automation;
using System.Security;

namespace PgBackup.Commands
{
    /// <summary>
    /// The base of cmdlets that read what is inside a backup (Restore-, Test-, Unprotect-PgBackup, Export-PgBackupData):
    /// the secrets that open an encrypted one. Copy-PgBackup declares the same three parameters itself, because it
    /// uploads as well (<see cref="PgBackupStorageWriteCmdlet"/>).
    /// </summary>
    public abstract class PgBackupReadCmdlet : PgBackupStorageCmdlet
    {
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
}
