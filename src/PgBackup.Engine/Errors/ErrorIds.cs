using System;

namespace PgBackup
{
    /// <summary>What kind of failure an error is; the cmdlets map it to PowerShell's ErrorCategory.</summary>
    public enum ErrorKind
    {
        InvalidArgument,
        ObjectNotFound,
        ConnectionError,
        AuthenticationError,
        PermissionDenied,
        NotInstalled,
        InvalidData,
        WriteError,
        ReadError,
        OperationStopped,
        OperationTimeout,
        ResourceExists,
        ResourceBusy,
        SecurityError,
        NotImplemented,
        InvalidOperation,
    }

    /// <summary>
    /// The one catalogue of PgBackup's error ids. Each id is stable: scripts may match on it
    /// (<c>$_.FullyQualifiedErrorId -like 'PgDumpFailed,*'</c>). Add new ids here, never inline strings.
    /// </summary>
    public static class ErrorIds
    {
        // Input and configuration
        public const string ConnectionStringMissing = "ConnectionStringMissing";
        public const string ConnectionStringInvalid = "ConnectionStringInvalid";
        public const string InvalidParameter = "InvalidParameter";
        public const string PathNotFound = "PathNotFound";
        public const string NotABackup = "NotABackup";
        /// <summary>A name read from storage (manifest, listing, S3 key) that would not stay inside its store.</summary>
        public const string UnsafeName = "UnsafeName";

        // Server and tools
        public const string ServerUnreachable = "ServerUnreachable";
        public const string AuthenticationFailed = "AuthenticationFailed";
        public const string DatabaseNotFound = "DatabaseNotFound";
        public const string PermissionDenied = "PermissionDenied";
        public const string ServerQueryFailed = "ServerQueryFailed";
        public const string PgToolNotFound = "PgToolNotFound";
        public const string PgToolTooOld = "PgToolTooOld";
        /// <summary>A value (table pattern, path, password) that PostgreSQL's Windows tools cannot receive in this machine's ANSI code page.</summary>
        public const string ArgumentNotRepresentable = "ArgumentNotRepresentable";
        public const string CompressionNotSupported = "CompressionNotSupported";

        // Making a backup
        public const string PgDumpFailed = "PgDumpFailed";
        public const string PgDumpIncomplete = "PgDumpIncomplete";
        public const string BackupWriteFailed = "BackupWriteFailed";
        public const string DiskFull = "DiskFull";
        public const string BackupExists = "BackupExists";
        public const string GlobalsDumpFailed = "GlobalsDumpFailed";
        /// <summary>One database of a whole-server backup (-AllDatabases) failed in a way none of the other ids names.</summary>
        public const string BackupFailed = "BackupFailed";
        public const string OperationCancelled = "OperationCancelled";
        /// <summary>The native engine failed (a lock not granted in time, a server it does not read, a script it could not finish).</summary>
        public const string NativeDumpFailed = "NativeDumpFailed";
        /// <summary>The database holds an object of a kind the native engine does not reproduce; nothing was written.</summary>
        public const string UnsupportedObject = "UnsupportedObject";

        // Reading and verifying backups
        public const string ManifestMissing = "ManifestMissing";
        public const string ManifestInvalid = "ManifestInvalid";
        public const string BackupIncomplete = "BackupIncomplete";
        public const string BackupChecksumMismatch = "BackupChecksumMismatch";
        public const string BackupSizeMismatch = "BackupSizeMismatch";
        public const string BackupCorrupt = "BackupCorrupt";
        public const string BackupReadFailed = "BackupReadFailed";
        /// <summary>A plain script holds a psql meta-command pg_dump does not write (<c>\!</c>, <c>\o</c>, <c>\copy</c>...).</summary>
        public const string UnsafeMetaCommand = "UnsafeMetaCommand";
        /// <summary>A plain script holds a statement (or bytes) pg_dump does not write into a database's dump.</summary>
        public const string UnsafeStatement = "UnsafeStatement";
        public const string BackupTooOld = "BackupTooOld";
        public const string NoBackupFound = "NoBackupFound";

        // Restoring
        public const string RestoreFailed = "RestoreFailed";
        public const string RestoreStatementFailed = "RestoreStatementFailed";
        public const string RestoreVerificationFailed = "RestoreVerificationFailed";
        public const string TargetDatabaseInUse = "TargetDatabaseInUse";
        public const string TargetDatabaseExists = "TargetDatabaseExists";
        public const string TargetDatabaseMissing = "TargetDatabaseMissing";
        public const string DrillFailed = "DrillFailed";
        public const string ExportFailed = "ExportFailed";
        public const string RoleCreationFailed = "RoleCreationFailed";
        /// <summary>A plain script in an encoding PgBackup cannot convert to the server's protocol encoding (UTF-8).</summary>
        public const string RestoreEncodingUnsupported = "RestoreEncodingUnsupported";
        /// <summary>Remove-PgBackupScratchDatabase was given a database that is not one PgBackup made and marked for its own use.</summary>
        public const string NotAScratchDatabase = "NotAScratchDatabase";
        /// <summary>A scratch database has connections, or the job that made it may still run; it was not dropped.</summary>
        public const string ScratchDatabaseInUse = "ScratchDatabaseInUse";

        // Retention and removal
        public const string RetentionPolicyMissing = "RetentionPolicyMissing";
        public const string RemoveFailed = "RemoveFailed";
        public const string TimeZoneNotFound = "TimeZoneNotFound";

        // Object storage
        public const string S3AccessDenied = "S3AccessDenied";
        public const string S3BucketNotFound = "S3BucketNotFound";
        public const string S3RequestFailed = "S3RequestFailed";
        public const string S3UploadFailed = "S3UploadFailed";
        public const string S3InvalidUri = "S3InvalidUri";
        public const string CopyFailed = "CopyFailed";
        /// <summary>An Azure Blob location (az://account/container/prefix/ or https://account.blob.core.windows.net/...) that cannot be parsed.</summary>
        public const string AzureInvalidUri = "AzureInvalidUri";
        /// <summary>The storage account refused the credentials, or none could be found (DefaultAzureCredential).</summary>
        public const string AzureAccessDenied = "AzureAccessDenied";
        public const string AzureContainerNotFound = "AzureContainerNotFound";
        public const string AzureRequestFailed = "AzureRequestFailed";
        public const string AzureUploadFailed = "AzureUploadFailed";
        /// <summary>A blob under an immutability policy or legal hold that was to be removed.</summary>
        public const string AzureBlobImmutable = "AzureBlobImmutable";
        /// <summary>-AccessTier Archive for backups (an archived blob cannot be read until it is rehydrated, for hours).</summary>
        public const string AzureAccessTierRefused = "AzureAccessTierRefused";

        // Encryption
        public const string EncryptionFailed = "EncryptionFailed";
        public const string DecryptionFailed = "DecryptionFailed";
        public const string WrongPassphrase = "WrongPassphrase";
        public const string SecretKeyMissing = "SecretKeyMissing";
        public const string EncryptionKeyInvalid = "EncryptionKeyInvalid";
        public const string IntegrityCheckFailed = "IntegrityCheckFailed";
        public const string AlreadyEncrypted = "AlreadyEncrypted";
        public const string NotEncrypted = "NotEncrypted";

        // Signatures
        public const string SigningKeyInvalid = "SigningKeyInvalid";
        public const string VerifyKeyInvalid = "VerifyKeyInvalid";
        /// <summary>-VerifyKey was given and the backup has no signature.</summary>
        public const string SignatureMissing = "SignatureMissing";
        /// <summary>The signature does not match the manifest (changed after signing), or cannot be read.</summary>
        public const string SignatureInvalid = "SignatureInvalid";
        /// <summary>Signed, but by a key that is not in -VerifyKey's file.</summary>
        public const string SignatureKeyMismatch = "SignatureKeyMismatch";

        // Neon
        public const string NeonApiKeyMissing = "NeonApiKeyMissing";
        public const string NeonUnauthorized = "NeonUnauthorized";
        public const string NeonNotFound = "NeonNotFound";
        public const string NeonBranchExists = "NeonBranchExists";
        public const string NeonLimitExceeded = "NeonLimitExceeded";
        public const string NeonRequestFailed = "NeonRequestFailed";
        public const string NeonOperationFailed = "NeonOperationFailed";
        public const string NeonOperationTimeout = "NeonOperationTimeout";
        public const string NeonProjectNotFound = "NeonProjectNotFound";
        public const string NeonDeleteRefused = "NeonDeleteRefused";
        public const string NeonRetriesExhausted = "NeonRetriesExhausted";
        public const string NeonInvalidExpiry = "NeonInvalidExpiry";

        // Freshness
        public const string BackupStale = "BackupStale";
    }

    /// <summary>
    /// A failure PgBackup knows how to describe: a stable <see cref="ErrorId"/>, a <see cref="Kind"/>, a message that
    /// never carries a secret, and the object the failure is about.
    /// </summary>
    public class PgBackupException : Exception
    {
        public PgBackupException(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
            : base(message, inner)
        {
            ErrorId = errorId;
            Kind = kind;
            Target = target;
        }

        public string ErrorId { get; }
        public ErrorKind Kind { get; }
        public object? Target { get; }
        /// <summary>What the user can do about it, when PgBackup knows.</summary>
        public string? RecommendedAction { get; init; }
    }
}
