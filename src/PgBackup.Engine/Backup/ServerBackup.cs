using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;

namespace PgBackup
{
    /// <summary>What New-PgBackup -AllDatabases was asked to do.</summary>
    public sealed class ServerBackupRequest
    {
        /// <summary>
        /// Everything a single backup takes (format, compression, engine, encryption, signing, store, -Globals); its
        /// connection names any database of the server (the list of databases is read there).
        /// </summary>
        public BackupRequest Backup { get; init; } = null!;
        /// <summary>Which of the server's databases to back up (-IncludeDatabase, -ExcludeDatabase).</summary>
        public Func<string, bool> Selects { get; init; } = _ => true;
        /// <summary>How many databases are backed up at a time.</summary>
        public int ThrottleLimit { get; init; } = 1;
    }

    public enum DatabaseBackupStatus
    {
        Complete,
        Failed,
    }

    /// <summary>
    /// One database of a whole-server backup (<c>PgBackup.DatabaseBackupResult</c>): what a scheduled job writes to its log.
    /// </summary>
    public sealed class DatabaseBackupResult
    {
        public string Database { get; init; } = "";
        /// <summary>host:port.</summary>
        public string Server { get; init; } = "";
        public DatabaseBackupStatus Status { get; init; }
        /// <summary>The backup's path (or s3:// URI); null when it failed.</summary>
        public string? Path { get; init; }
        public long? SizeBytes { get; init; }
        public DateTime StartTime { get; init; }
        public TimeSpan Duration { get; init; }
        /// <summary>The error id of the failure (the same as a single backup's), or null.</summary>
        public string? ErrorId { get; init; }
        public string? Message { get; init; }
        /// <summary>The roles script was saved beside this backup.</summary>
        public bool HasGlobals { get; init; }
        /// <summary>The backup, as New-PgBackup emits it (null when it failed).</summary>
        public BackupInfo? Backup { get; init; }
        /// <summary>The failure, as the error record shows it (null when it worked).</summary>
        public PgBackupException? Error { get; init; }
    }

    /// <summary>
    /// Backs up every database of a server (New-PgBackup -AllDatabases): each with <see cref="BackupEngine.Run"/> as a
    /// single backup is made, <see cref="ServerBackupRequest.ThrottleLimit"/> at a time (memory: that many pipelines),
    /// the roles (-Globals) dumped once and saved beside each backup. A database that fails is its own result; the
    /// others go on. Results are handed to <c>emit</c> as each database ends, from worker threads.
    /// </summary>
    public static class ServerBackup
    {
        public const int MaxThrottleLimit = Throttle.MaxLimit;

        /// <param name="emit">Called with each <see cref="DatabaseBackupResult"/>, and with a <see cref="PgBackupException"/> for a
        /// failure of the run that is not one database's (the roles); from worker threads, one call at a time.</param>
        /// <summary>The databases of the server that take connections and that <paramref name="selects"/> picks (for -WhatIf and -Confirm).</summary>
        public static List<string> SelectDatabases(PgConnectionInfo connection, Func<string, bool> selects, IOperationLog log, CancellationToken ct)
        {
            connection = connection.WithoutNeonPooler(out _);
            using var admin = PgServer.Connect(connection, new Redactor(connection.Secrets()), ct);
            return Select(admin, connection, selects, log, ct);
        }

        private static List<string> Select(PgServer admin, PgConnectionInfo connection, Func<string, bool> selects, IOperationLog log, CancellationToken ct)
        {
            var all = admin.DatabaseNames(ct);
            var databases = all.Where(selects).ToList();
            log.Verbose($"{connection.Server} has {all.Count} database(s) that take connections (templates left out); backing up {databases.Count}: " +
                        string.Join(", ", databases.Select(Printable)) + ".");
            if (databases.Count == 0)
                throw new PgBackupException(ErrorIds.DatabaseNotFound, ErrorKind.ObjectNotFound,
                    $"No database on {connection.Server} is selected (of {string.Join(", ", all.Select(Printable))}): check -IncludeDatabase and -ExcludeDatabase.",
                    connection.Server);
            return databases;
        }

        public static void Run(ServerBackupRequest request, IOperationLog log, Action<object> emit, CancellationToken ct)
        {
            Throttle.Validate(request.ThrottleLimit);
            var template = request.Backup;
            var connection = template.Connection.WithoutNeonPooler(out _);
            var redactor = new Redactor(connection.Secrets());
            var activity = $"Backing up the databases of {connection.Server}";
            log.Progress(new ProgressInfo(activity, "Listing the databases"));

            List<string> databases;
            GlobalsDump? globals = null;
            string server;
            using (var admin = PgServer.Connect(connection, redactor, ct))
            {
                server = admin.Info.Server;
                databases = Select(admin, connection, request.Selects, log, ct);
                if (template.Globals)
                {
                    try
                    {
                        globals = BackupEngine.CaptureGlobals(new PgToolLocator(template.PgBinPath), admin.Version.Major,
                            $"the server runs PostgreSQL {admin.Version}", connection.WithDatabase(admin.Database), redactor,
                            template.NoRolePasswords, server, log, ct);
                        log.Verbose($"Dumped the cluster's roles ({globals.Roles.Length}) once; they are saved beside each database's backup.");
                    }
                    catch (PgBackupException e)
                    {
                        emit(new PgBackupException(e.ErrorId, e.Kind,
                            $"The roles (-Globals) were not saved: {e.Message} The databases are backed up without them.", server, e)
                        { RecommendedAction = e.RecommendedAction ?? "Install a pg_dumpall at least as new as the server (or give -PgBinPath), or leave out -Globals." });
                    }
                }
            }

            // The store is listed, and its stale partial files swept, once for the run (not once per database).
            var listing = template.Store.List(null, ct);
            BackupCatalog.SweepStalePartials(template.Store, template.StalePartialAge, log, ct, listing);
            var names = new BackupNameRegistry(listing.Select(e => e.Name));
            var gate = new object();
            int done = 0, failed = 0;
            Throttle.ForEach(databases, request.ThrottleLimit, (database, slot) =>
            {
                var result = BackupOne(template, database, server, names, globals, new ItemLog(log, Printable(database), slot), ct);
                if (result is null) return;
                lock (gate)
                {
                    done++;
                    if (result.Status == DatabaseBackupStatus.Failed) failed++;
                    emit(result);
                    log.Progress(new ProgressInfo(activity, $"{done} of {databases.Count} done" + (failed > 0 ? $", {failed} failed" : ""))
                    {
                        PercentComplete = 100 * done / databases.Count,
                    });
                }
            }, ct);
            log.Progress(new ProgressInfo(activity, "Done") { Completed = true });
        }

        /// <summary>One database, as a single backup; null when the run was stopped.</summary>
        private static DatabaseBackupResult? BackupOne(BackupRequest template, string database, string server, BackupNameRegistry names,
            GlobalsDump? globals, IOperationLog log, CancellationToken ct)
        {
            var start = DateTime.UtcNow;
            var clock = Stopwatch.StartNew();
            PgBackupException error;
            try
            {
                var info = new BackupEngine().Run(template.ForDatabase(database, names, globals), log, ct);
                return new DatabaseBackupResult
                {
                    Database = database,
                    Server = server,
                    Status = DatabaseBackupStatus.Complete,
                    Path = info.Path,
                    SizeBytes = info.SizeBytes,
                    StartTime = start,
                    Duration = clock.Elapsed,
                    HasGlobals = info.HasGlobals,
                    Backup = info,
                };
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return null;
            }
            catch (PgBackupException e)
            {
                error = e;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Not one of PgBackup's failures (a bug, or a failure it does not know): still this database's alone.
                error = new PgBackupException(ErrorIds.BackupFailed, ErrorKind.InvalidOperation,
                    $"The backup of '{Printable(database)}' on {server} failed: {e.GetType().Name}: {new Redactor(template.Connection.Secrets()).Redact(e.Message)}", database, e);
            }
            log.Verbose($"Failed ({error.ErrorId}); the other databases go on.");
            return new DatabaseBackupResult
            {
                Database = database,
                Server = server,
                Status = DatabaseBackupStatus.Failed,
                StartTime = start,
                Duration = clock.Elapsed,
                ErrorId = error.ErrorId,
                Message = error.Message,
                Error = error,
            };
        }

        /// <summary>A database name for messages: control characters (a newline in a name) shown as '?'.</summary>
        public static string Printable(string name)
        {
            var sb = new StringBuilder(name.Length + 2).Append('\'');
            foreach (char c in name) sb.Append(c < 32 || c == 127 ? '?' : c);
            return sb.Append('\'').ToString();
        }
    }
}
