namespace PgBackup
{
    /// <summary>pg_dump's archive formats.</summary>
    public enum BackupFormat
    {
        /// <summary>A SQL script (<c>.sql.gz</c>): restores with <c>gunzip | psql</c>.</summary>
        Plain,
        /// <summary>pg_dump's custom archive (<c>.dump</c>): restores with pg_restore, selectively and in parallel.</summary>
        Custom,
        /// <summary>One file per table in a folder (<c>.dir</c>): dumps and restores in parallel.</summary>
        Directory,
    }

    /// <summary>What makes a backup: pg_dump, or PgBackup's own engine over Npgsql (Plain backups of PostgreSQL 12 to 18).</summary>
    public enum DumpEngine
    {
        /// <summary>pg_dump when one at least as new as the server is found, else the native engine (Plain backups).</summary>
        Auto,
        PgDump,
        Native,
    }

    public enum CompressionMethod
    {
        Gzip,
        Zstd,
        None,
    }

    public enum BackupStatus
    {
        /// <summary>Made by PgBackup and committed: its manifest and data are present and agree in size.</summary>
        Complete,
        /// <summary>Made by another tool (the guide's backup-database.sh): no manifest, time from the name.</summary>
        NoManifest,
        /// <summary>Partial, interrupted, or missing its data or manifest: never a good backup.</summary>
        Incomplete,
    }
}
