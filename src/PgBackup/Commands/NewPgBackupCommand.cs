using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>New-PgBackup: backs up one PostgreSQL database with pg_dump or PgBackup's native engine, streaming, verified, with a manifest.</summary>
    [Cmdlet(VerbsCommon.New, "PgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Database")]
    [OutputType(typeof(BackupInfo))]
    [OutputType(typeof(DatabaseBackupResult), ParameterSetName = new[] { "AllDatabases" })]
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

        /// <summary>Back up every database of the server (templates and databases that take no connections left out), each as its own backup.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "AllDatabases")]
        public SwitchParameter AllDatabases { get; set; }

        /// <summary>With -AllDatabases: only the databases matching one of these wildcard patterns.</summary>
        [Parameter(ParameterSetName = "AllDatabases")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? IncludeDatabase { get; set; }

        /// <summary>With -AllDatabases: not the databases matching one of these wildcard patterns.</summary>
        [Parameter(ParameterSetName = "AllDatabases")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? ExcludeDatabase { get; set; }

        /// <summary>With -AllDatabases: how many databases are backed up at a time.</summary>
        [Parameter(ParameterSetName = "AllDatabases")]
        [ValidateRange(1, ServerBackup.MaxThrottleLimit)]
        public int ThrottleLimit { get; set; } = 1;

        /// <summary>With -AllDatabases: emit one PgBackup.DatabaseBackupResult per database (failed ones too) instead of the backups.</summary>
        [Parameter(ParameterSetName = "AllDatabases")]
        public SwitchParameter Summary { get; set; }

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
            // -AllDatabases: the server's databases are listed (read only) so that -WhatIf and -Confirm name each one.
            System.Collections.Generic.HashSet<string>? approved = null;
            if (AllDatabases)
            {
                var include = Patterns(IncludeDatabase);
                var exclude = Patterns(ExcludeDatabase);
                System.Collections.Generic.List<string> selected;
                try
                {
                    selected = Run((log, ct) => ServerBackup.SelectDatabases(connection!,
                        db => (include.Count == 0 || include.Any(p => p.IsMatch(db))) && !exclude.Any(p => p.IsMatch(db)), log, ct));
                }
                catch (PgBackupException e)
                {
                    Fail(e, location);
                    return;
                }
                approved = new System.Collections.Generic.HashSet<string>(
                    selected.Where(db => ShouldProcess(location, $"Back up database {ServerBackup.Printable(db)} from {connection!.Server}")), System.StringComparer.Ordinal);
                if (approved.Count == 0) return;
            }
            else if (!ShouldProcess(location, $"Back up database '{connection!.Database ?? "(default)"}' from {connection.Server}"))
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
            BackupRequest Request(IBackupStore store) => new BackupRequest
            {
                Connection = connection!,
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
            };
            IBackupStore OpenStore(IOperationLog log)
            {
                var store = StoreFactory.OpenLocation(location, storeOptions, create: true);
                if (store is S3Store s3) log.Verbose($"Uploading to {store.Location} at {s3.Endpoint} in parts of {storeOptions.PartSizeBytes >> 20} MiB, {storeOptions.UploadConcurrency} at a time.");
                if (store is AzureStore az) log.Verbose($"Uploading to {store.Location} at {az.Endpoint} in blocks of {storeOptions.PartSizeBytes >> 20} MiB, {storeOptions.UploadConcurrency} at a time{(storeOptions.AccessTier == AzureAccessTier.Default ? "" : ", access tier " + storeOptions.AccessTier)}.");
                return store;
            }
            try
            {
                if (approved is not null)
                {
                    Run((log, emit, ct) =>
                    {
                        using var store = OpenStore(log);
                        ServerBackup.Run(new ServerBackupRequest
                        {
                            Backup = Request(store),
                            Selects = approved!.Contains,
                            ThrottleLimit = ThrottleLimit,
                        }, log, emit, ct);
                    }, WriteResult);
                    return;
                }
                var info = Run((log, ct) =>
                {
                    using var store = OpenStore(log);
                    return new BackupEngine().Run(Request(store), log, ct);
                });
                WriteObject(info);
            }
            catch (PgBackupException e)
            {
                Fail(e, location);
            }
        }

        private static System.Collections.Generic.List<WildcardPattern> Patterns(string[]? patterns) =>
            (patterns ?? System.Array.Empty<string>()).Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant)).ToList();

        /// <summary>
        /// One database's end, on the pipeline thread: its backup (or, with -Summary, its result) and, when it failed,
        /// a non-terminating error with the single backup's error id and the database as its target.
        /// </summary>
        private void WriteResult(object item)
        {
            switch (item)
            {
                case DatabaseBackupResult r:
                    if (Summary) WriteObject(r);
                    else if (r.Backup is not null) WriteObject(r.Backup);
                    if (r.Error is not null) WriteError(ToErrorRecord(r.Error, r.Database));
                    break;
                case PgBackupException e:
                    WriteError(ToErrorRecord(e));
                    break;
            }
        }
    }
}
