using System;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// One backup, as New-PgBackup made it or Get-PgBackup found it (<c>PgBackup.BackupInfo</c>). Its <see cref="Path"/>
    /// binds by property name to Restore-PgBackup, Test-PgBackup, Remove-PgBackup and Copy-PgBackup.
    /// </summary>
    public sealed class BackupInfo : IRetentionCandidate
    {
        public string Name { get; init; } = "";
        /// <summary>The full path (or s3:// URI) of the backup file or folder.</summary>
        public string Path { get; init; } = "";
        /// <summary>The folder (or s3:// prefix) the backup is in.</summary>
        public string Location { get; init; } = "";
        public string? ManifestPath { get; init; }
        public string Database { get; init; } = "";
        /// <summary>host:port of the server the backup was taken from (unknown for backups without a manifest).</summary>
        public string? Server { get; init; }
        public BackupFormat Format { get; init; }
        public CompressionMethod Compression { get; init; }
        public int? CompressionLevel { get; init; }
        public long SizeBytes { get; init; }
        public string? Sha256 { get; init; }
        /// <summary>When the backup started (UTC): the time retention and freshness checks use.</summary>
        public DateTime StartTime { get; init; }
        public DateTime? EndTime { get; init; }
        public TimeSpan? Duration => EndTime.HasValue ? EndTime.Value - StartTime : (TimeSpan?)null;
        public TimeSpan Age => DateTime.UtcNow - StartTime;
        public string? ServerVersion { get; init; }
        public string? PgDumpVersion { get; init; }
        /// <summary>What made it: PgDump or Native (null for backups without a manifest, or from before the native engine).</summary>
        public string? Engine { get; init; }
        public string? ModuleVersion { get; init; }
        public TableRowCount[] Tables { get; init; } = Array.Empty<TableRowCount>();
        public int TableCount => Tables.Length;
        public long RowCount => Tables.Sum(t => Math.Max(0, t.Rows));
        public BackupStatus Status { get; init; }
        /// <summary>Why a backup is incomplete, or where a backup without manifest came from.</summary>
        public string? StatusDetail { get; init; }
        public bool Encrypted { get; init; }
        public EncryptionInfo? Encryption { get; init; }
        public bool HasGlobals => Manifest?.Globals is not null;
        /// <summary>The manifest as read (null for backups without one).</summary>
        public BackupManifest? Manifest { get; init; }

        /// <summary>A good backup: complete with its manifest, or a non-empty backup made by the guide's script; never one whose signature failed.</summary>
        public bool IsGood => (Status == BackupStatus.Complete || (Status == BackupStatus.NoManifest && SizeBytes > GuideEmptyGzipSize)) && SignatureValid != false;

        /// <summary>Backups of one database in one location are one group for retention and freshness.</summary>
        public string Group => Database + " @ " + Location;

        /// <summary>The size of <c>pg_dump | gzip</c> output when pg_dump wrote nothing: the guide's empty backup.</summary>
        public const long GuideEmptyGzipSize = 20;

        public static BackupInfo FromManifest(BackupManifest m, IBackupStore store, BackupStatus status, string? detail, long? actualSize = null) => new BackupInfo
        {
            Name = m.Name,
            Path = store.GetPath(m.Name),
            Location = store.Location,
            ManifestPath = store.GetPath(BackupNaming.ManifestName(m.Name)),
            Database = m.Database,
            Server = m.Host.Length > 0 ? $"{m.Host}:{m.Port}" : null,
            Format = m.Format,
            Compression = m.Compression,
            CompressionLevel = m.CompressionLevel,
            SizeBytes = actualSize ?? m.SizeBytes,
            Sha256 = m.Sha256,
            StartTime = m.StartTime,
            EndTime = m.EndTime,
            ServerVersion = m.ServerVersion,
            PgDumpVersion = m.PgDumpVersion,
            Engine = m.Engine,
            ModuleVersion = m.ModuleVersion,
            Tables = m.Tables.ToArray(),
            Status = status,
            StatusDetail = detail,
            Encrypted = m.Encryption is not null,
            Encryption = m.Encryption,
            Manifest = m,
            StoreOptions = StoreFactory.OptionsOf(store),
        };

        /// <summary>Its manifest has a signature beside it (<c>&lt;name&gt;.json.sig</c>).</summary>
        public bool Signed { get; internal set; }

        /// <summary>With -VerifyKey: whether the signature is by one of its keys and matches the manifest; null when not checked.</summary>
        public bool? SignatureValid { get; internal set; }

        /// <summary>Why a reader must refuse this backup (its manifest unreadable or naming what it may not, its signature failed), or null.</summary>
        internal PgBackupException? Refusal { get; set; }

        /// <summary>How to reach the store again (credentials for object storage): never shown, never serialized.</summary>
        internal StoreOptions StoreOptions { get; set; } = StoreOptions.Default;

        string IRetentionCandidate.Id => Path;
        DateTime IRetentionCandidate.Time => StartTime;

        /// <summary>Removes the backup's data and its manifest (see <see cref="BackupCatalog.Remove"/>).</summary>
        public void Remove(IOperationLog log, CancellationToken cancellationToken)
        {
            BackupCatalog.RemoveAt(Path, StoreOptions, log, cancellationToken);
        }

        public override string ToString() => Path;
    }
}
