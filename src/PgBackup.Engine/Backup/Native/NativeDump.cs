using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup.Native
{
    /// <summary>What the native dump is asked to do.</summary>
    internal sealed class NativeDumpOptions
    {
        public BackupScope Scope { get; init; } = new BackupScope();
        /// <summary>Connections that read table data (1: the main connection only).</summary>
        public int Jobs { get; init; } = 1;
        public int? LockWaitTimeoutSeconds { get; init; }
        public string ModuleVersion { get; init; } = "";
    }

    /// <summary>
    /// PgBackup's own logical dump of one database over Npgsql, for PostgreSQL 12 to 18: a plain script as pg_dump
    /// writes it, read in one snapshot. There is no .NET library that dumps PostgreSQL DDL, so this is a port of what
    /// pg_dump does (its catalog queries, dependency sort and statement shapes), with the server's own pg_get_*def
    /// functions producing every definition they can.
    /// <para>
    /// <see cref="Prepare"/> does everything that can fail before a byte is written (connect, snapshot, locks, the
    /// catalog, objects of kinds it does not reproduce, the order); <see cref="WriteTo"/> then writes the script.
    /// </para>
    /// </summary>
    internal sealed class NativeDump : IDisposable
    {
        /// <summary>The server versions the engine reads (their catalogs are the ones handled here).</summary>
        public const int MinimumMajor = 12, MaximumMajor = 18;

        private readonly DumpSession _main;
        private readonly List<DumpSession> _workers;
        private readonly CatalogReader _catalog;
        private readonly List<DumpObject> _sorted;
        private readonly NativeDumpOptions _options;
        private readonly string _serverVersion;
        private readonly IOperationLog _log;
        private readonly CancellationToken _ct;

        private NativeDump(DumpSession main, List<DumpSession> workers, CatalogReader catalog, List<DumpObject> sorted, NativeDumpOptions options,
            string serverVersion, IOperationLog log, CancellationToken ct)
        {
            _main = main;
            _workers = workers;
            _catalog = catalog;
            _sorted = sorted;
            _options = options;
            _serverVersion = serverVersion;
            _log = log;
            _ct = ct;
        }

        /// <summary>The statements every connection of the dump starts with (pg_dump's setup_connection).</summary>
        private static readonly string[] SessionSettings =
        {
            "SET DateStyle = ISO", "SET IntervalStyle = postgres", "SET extra_float_digits TO 3", "SET synchronize_seqscans TO off",
            "SET statement_timeout = 0", "SET lock_timeout = 0", "SET idle_in_transaction_session_timeout = 0", "SET row_security = off",
        };

        public static NativeDump Prepare(PgConnectionInfo connection, Redactor redactor, NativeDumpOptions options, IOperationLog log, string activity, CancellationToken ct)
        {
            var main = DumpSession.Open(connection, redactor, ct);
            var workers = new List<DumpSession>();
            try
            {
                int version = int.Parse(main.Scalar("SELECT pg_catalog.current_setting('server_version_num')")!, CultureInfo.InvariantCulture);
                var versionText = main.Scalar("SELECT pg_catalog.current_setting('server_version')") ?? "";
                if (version / 10000 < MinimumMajor || version / 10000 > MaximumMajor)
                    throw new PgBackupException(ErrorIds.NativeDumpFailed, ErrorKind.NotImplemented,
                        $"PgBackup's native engine reads PostgreSQL {MinimumMajor} to {MaximumMajor}; the server runs {versionText}.", versionText)
                    { RecommendedAction = "Use -Engine PgDump with a pg_dump at least as new as the server (-PgBinPath)." };
                Setup(main, version);
                main.Execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                Task<List<DumpSession>>? opening = null;
                if (options.Jobs > 1)
                {
                    var snapshot = main.Scalar("SELECT pg_catalog.pg_export_snapshot()")!;
                    opening = Task.Run(() => OpenWorkers(connection, redactor, options.Jobs - 1, snapshot, version, ct), ct);
                }

                log.Progress(new ProgressInfo(activity, "Reading the catalog"));
                var catalog = new CatalogReader(main, version, options);
                catalog.ReadRelationList();
                // From here on every name the server prints is schema-qualified (pg_dump's secure search path).
                main.Execute("SELECT pg_catalog.set_config('search_path', '', false)");
                LockTables(main, catalog.TablesToLock(), options.LockWaitTimeoutSeconds, log, activity);
                catalog.ReadAll();
                if (catalog.Unsupported.Count > 0)
                {
                    var list = catalog.Unsupported.Select(u => u.ToString()).Distinct().ToList();
                    throw new PgBackupException(ErrorIds.UnsupportedObject, ErrorKind.NotImplemented,
                        $"The database holds {(list.Count == 1 ? "an object" : list.Count + " objects")} of a kind PgBackup's native engine does not reproduce, so no backup was made: " +
                        string.Join("; ", list.Take(20)) + (list.Count > 20 ? $"; and {list.Count - 20} more" : "") + ".", list[0])
                    { RecommendedAction = "Back up with -Engine PgDump and a pg_dump at least as new as the server (-PgBinPath), or leave those objects out with -Schema/-ExcludeSchema/-Table/-ExcludeTable." };
                }
                if (catalog.RowSecurityBlocked() is { Count: > 0 } blocked)
                {
                    var role = main.Scalar("SELECT current_user::text") ?? "";
                    throw new PgBackupException(ErrorIds.PermissionDenied, ErrorKind.PermissionDenied,
                        "No backup was made. " + PgServer.RowSecurityRefusal(role, string.Join(", ", blocked.Take(20)) + (blocked.Count > 20 ? $" and {blocked.Count - 20} more tables" : "")), blocked[0])
                    { RecommendedAction = PgServer.RowSecurityAction(role) };
                }
                var sorted = new DumpSorter(catalog.Objects, catalog.PreDataBoundary, catalog.PostDataBoundary, log).Sort();
                if (opening is not null) workers = opening.GetAwaiter().GetResult();
                log.Verbose($"Native engine: {sorted.Count(o => o.Dump && o.Kind != ObjKind.Shadow)} objects read from PostgreSQL {versionText} in one snapshot" +
                            (workers.Count > 0 ? $"; table data on {workers.Count + 1} connections." : "."));
                return new NativeDump(main, workers, catalog, sorted, options, versionText, log, ct);
            }
            catch
            {
                foreach (var w in workers) w.Dispose();
                main.Dispose();
                throw;
            }
        }

        private static void Setup(DumpSession session, int version)
        {
            foreach (var sql in SessionSettings) session.Execute(sql);
            if (version >= 170000) session.Execute("SET transaction_timeout = 0");
        }

        private static List<DumpSession> OpenWorkers(PgConnectionInfo connection, Redactor redactor, int count, string snapshot, int version, CancellationToken ct)
        {
            var sessions = new List<DumpSession>();
            try
            {
                for (int i = 0; i < count; i++)
                {
                    var s = DumpSession.Open(connection, redactor, ct);
                    sessions.Add(s);
                    Setup(s, version);
                    s.Execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                    s.Execute("SET TRANSACTION SNAPSHOT '" + snapshot.Replace("'", "''") + "'");
                    s.Execute("SELECT pg_catalog.set_config('search_path', '', false)");
                }
                return sessions;
            }
            catch
            {
                foreach (var s in sessions) s.Dispose();
                throw;
            }
        }

        /// <summary>ACCESS SHARE on every table dumped, as pg_dump takes it, bounded by -LockWaitTimeoutSeconds.</summary>
        private static void LockTables(DumpSession main, List<TableObj> tables, int? timeoutSeconds, IOperationLog log, string activity)
        {
            if (tables.Count == 0) return;
            log.Progress(new ProgressInfo(activity, $"Locking {tables.Count} tables"));
            if (timeoutSeconds is int seconds) main.Execute("SET lock_timeout = " + (seconds * 1000L).ToString(CultureInfo.InvariantCulture));
            try
            {
                // In batches of about 100 kB of names, as pg_dump does.
                var batch = new List<string>();
                int length = 0;
                void Flush()
                {
                    if (batch.Count == 0) return;
                    main.Execute("LOCK TABLE " + string.Join(", ", batch) + " IN ACCESS SHARE MODE");
                    batch.Clear();
                    length = 0;
                }
                foreach (var t in tables)
                {
                    var name = "ONLY " + t.Qualified;
                    batch.Add(name);
                    length += name.Length + 2;
                    if (length >= 100000) Flush();
                }
                Flush();
            }
            catch (PgBackupException e) when (DumpSession.SqlState(e) == "55P03")
            {
                throw new PgBackupException(ErrorIds.NativeDumpFailed, ErrorKind.OperationTimeout,
                    "The native dump could not lock the tables it backs up: another session holds a lock on one of them for longer than -LockWaitTimeoutSeconds; no backup was kept.", null, e)
                { RecommendedAction = "Find the session holding the lock (pg_locks, pg_stat_activity) or run the backup later; a larger -LockWaitTimeoutSeconds waits longer." };
            }
            if (timeoutSeconds is not null) main.Execute("SET lock_timeout = 0");
        }

        /// <summary>Writes the whole script into <paramref name="output"/>.</summary>
        public void WriteTo(Stream output, Action<string> currentOperation)
        {
            var copier = new TableDataCopier(_main, _workers, _log, currentOperation, _ct);
            new ScriptWriter(output, _catalog, _options, copier).WriteScript(_sorted, _serverVersion, RestrictKey());
            foreach (var w in _workers) w.Execute("COMMIT");
            _main.Execute("COMMIT");
        }

        /// <summary>A key for psql's \restrict as pg_dump makes one: letters and digits, random on every run.</summary>
        private static string RestrictKey()
        {
            const string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            var bytes = new byte[63];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            return new string(bytes.Select(b => chars[b % chars.Length]).ToArray());
        }

        public void Dispose()
        {
            foreach (var w in _workers) w.Dispose();
            _main.Dispose();
        }
    }
}
