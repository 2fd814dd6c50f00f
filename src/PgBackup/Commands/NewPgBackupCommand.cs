using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>New-PgBackup: backs up one PostgreSQL database with pg_dump or PgBackup's native engine, streaming, verified, with a manifest.</summary>
    [Cmdlet(VerbsCommon.New, "PgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(BackupInfo))]
    public sealed class NewPgBackupCommand : PgBackupStorageWriteCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? ConnectionString { get; set; }

        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "backups";

        [Parameter]
        public BackupFormat Format { get; set; } = BackupFormat.Plain;

        [Parameter]
        public CompressionMethod Compression { get; set; } = CompressionMethod.Gzip;

        [Parameter]
        [ValidateRange(1, 19)]
        public int CompressionLevel { get; set; }

        [Parameter]
        [ValidateRange(1, 64)]
        public int Jobs { get; set; } = 1;

        [Parameter] public string[]? Schema { get; set; }
        [Parameter] public string[]? ExcludeSchema { get; set; }
        [Parameter] public string[]? Table { get; set; }
        [Parameter] public string[]? ExcludeTable { get; set; }
        [Parameter] public string[]? ExcludeTableData { get; set; }
        [Parameter] public SwitchParameter SchemaOnly { get; set; }
        [Parameter] public SwitchParameter DataOnly { get; set; }
        [Parameter] public SwitchParameter NoOwner { get; set; }
        [Parameter] public SwitchParameter NoPrivileges { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PgBinPath { get; set; }

        /// <summary>pg_dump, PgBackup's native engine, or Auto: pg_dump when one fits the server, else the native engine.</summary>
        [Parameter]
        public DumpEngine Engine { get; set; } = DumpEngine.Auto;

        /// <summary>How long pg_dump (--lock-wait-timeout) or the native engine may wait for its table locks; unset: as long as it takes.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int LockWaitTimeoutSeconds { get; set; }

        /// <summary>Also save the cluster's roles (pg_dumpall --globals-only) beside the backup.</summary>
        [Parameter] public SwitchParameter Globals { get; set; }

        /// <summary>With -Globals: leave out role passwords (needed on managed services).</summary>
        [Parameter] public SwitchParameter NoRolePasswords { get; set; }

        /// <summary>Encrypt with this passphrase (OpenPGP, AES-256), in the stream.</summary>
        [Parameter]
        public System.Security.SecureString? EncryptPassphrase { get; set; }

        /// <summary>Encrypt to these recipients' public key files.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? EncryptRecipient { get; set; }

        protected override void ProcessRecord()
        {
            var location = ResolvePath(Path);
            PgConnectionInfo? connection = null;
            try
            {
                connection = Run((log, ct) => ResolveConnection(ConnectionString, Credential, log));
            }
            catch (PgBackupException e)
            {
                Fail(e);
            }
            if (!ShouldProcess(location, $"Back up database '{connection!.Database ?? "(default)"}' from {connection.Server}"))
                return;

            var scope = new BackupScope
            {
                Schemas = Schema,
                ExcludeSchemas = ExcludeSchema,
                Tables = Table,
                ExcludeTables = ExcludeTable,
                ExcludeTableData = ExcludeTableData,
                SchemaOnly = SchemaOnly,
                DataOnly = DataOnly,
                NoOwner = NoOwner,
                NoPrivileges = NoPrivileges,
            };
            int? level = IfGiven(nameof(CompressionLevel), CompressionLevel);
            string? binPath = PgBinPath is null ? null : ResolvePath(PgBinPath);
            var storeOptions = StorageOptions();
            var signing = LoadSigningKey(SigningKey, SigningKeyPassphrase);
            using var encryption = new EncryptionSettings
            {
                Passphrase = Chars(EncryptPassphrase),
                RecipientKeyFiles = (EncryptRecipient ?? System.Array.Empty<string>()).Select(ResolvePath).ToArray(),
            };
            try
            {
                var info = Run((log, ct) =>
                {
                    using var store = StoreFactory.OpenLocation(location, storeOptions, create: true);
                    if (store is S3Store s3) log.Verbose($"Uploading to {store.Location} at {s3.Endpoint} in parts of {storeOptions.PartSizeBytes >> 20} MiB, {storeOptions.UploadConcurrency} at a time.");
                    return new BackupEngine().Run(new BackupRequest
                    {
                        Connection = connection,
                        Store = store,
                        Format = Format,
                        Compression = Compression,
                        CompressionLevel = level,
                        Jobs = Jobs,
                        Scope = scope,
                        PgBinPath = binPath,
                        ModuleVersion = ModuleVersion,
                        Encryption = encryption,
                        Signing = signing,
                        Globals = Globals,
                        NoRolePasswords = NoRolePasswords,
                        LockWaitTimeoutSeconds = IfGiven(nameof(LockWaitTimeoutSeconds), LockWaitTimeoutSeconds),
                        Engine = Engine,
                    }, log, ct);
                });
                WriteObject(info);
            }
            catch (PgBackupException e)
            {
                Fail(e, location);
            }
        }
    }
}
