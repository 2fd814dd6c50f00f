using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>What Restore-PgBackup was asked to do.</summary>
    public sealed class RestoreRequest
    {
        public string BackupPath { get; init; } = "";
        public StoreOptions StoreOptions { get; init; } = StoreOptions.Default;
        /// <summary>The server to restore to; its database is the default target.</summary>
        public PgConnectionInfo Connection { get; init; } = null!;
        public string? TargetDatabase { get; init; }
        public bool CreateDatabase { get; init; }
        /// <summary>End other sessions on the target database (and only there).</summary>
        public bool Force { get; init; }
        /// <summary>Restore only these tables (pg_dump patterns); the rest of the target stays as it is.</summary>
        public string[]? Tables { get; init; }
        public string[]? Schemas { get; init; }
        /// <summary>Keep the replaced database under a new name instead of dropping it.</summary>
        public bool KeepPrevious { get; init; }
        public RestoreOptions Options { get; init; } = new RestoreOptions();
        public DecryptionSettings Decryption { get; init; } = DecryptionSettings.None;
        /// <summary>Create the roles the backup's saved globals define and the server lacks, before restoring.</summary>
        public bool CreateRoles { get; init; }
        /// <summary>Use only a backup whose manifest is signed by one of these keys (-VerifyKey).</summary>
        public SignatureVerifier? VerifyKey { get; init; }
    }

    /// <summary>A restore that has been looked at but not started: what it would do, for -WhatIf and confirmation.</summary>
    public sealed class RestorePlan : IDisposable
    {
        internal RestorePlan(RestoreRequest request, BackupSource source, DatabaseAdmin admin, PgConnectionInfo server, Redactor redactor)
        {
            Request = request;
            Source = source;
            Admin = admin;
            Server = server;
            Redactor = redactor;
        }

        internal RestoreRequest Request { get; }
        internal BackupSource Source { get; }
        internal DatabaseAdmin Admin { get; }
        internal PgConnectionInfo Server { get; }
        internal Redactor Redactor { get; }
        public string Target { get; internal set; } = "";
        public bool TargetExists { get; internal set; }
        public bool Partial => (Request.Tables?.Length ?? 0) + (Request.Schemas?.Length ?? 0) > 0;
        public int OtherSessions { get; internal set; }
        public int TargetTableCount { get; internal set; }
        public string ServerName => Server.Server;
        public BackupInfo Backup => Source.Info;

        /// <summary>The confirmation text: what will be dropped and what restored.</summary>
        public string Action
        {
            get
            {
                var b = Source.Info;
                var what = b.Status == BackupStatus.Complete ? $"{b.TableCount} tables, {b.RowCount:N0} rows" : "a backup without manifest";
                if (Partial)
                    return $"Replace {string.Join(", ", (Request.Tables ?? Array.Empty<string>()).Concat(Request.Schemas ?? Array.Empty<string>()))} in database '{Target}' on {ServerName} with the copy in {b.Name}";
                if (!TargetExists) return $"Create database '{Target}' on {ServerName} from {b.Name} ({what})";
                return $"Replace database '{Target}' on {ServerName} ({TargetTableCount} tables now; all its current contents are dropped) with {b.Name} ({what}, taken {b.StartTime:u})" +
                       (OtherSessions > 0 ? $"; {OtherSessions} other session(s) on it {(Request.Force ? "will be ended" : "must end first")}" : "");
            }
        }

        public void Dispose()
        {
            Admin.Dispose();
            Source.Dispose();
        }
    }

    /// <summary>
    /// Restores a backup so that the target either ends up restored and verified, or exactly as it was: the backup is
    /// checked first (checksum, archive, script), restored into a new scratch database, its row counts compared with the
    /// manifest, and only then put in the target's place in one transaction (or, for -Table/-Schema, the selected
    /// objects copied into the target in one transaction).
    /// </summary>
    public sealed class RestoreEngine
    {
        public RestorePlan Prepare(RestoreRequest request, IOperationLog log, CancellationToken ct)
        {
            if (request.CreateDatabase && ((request.Tables?.Length ?? 0) + (request.Schemas?.Length ?? 0)) > 0)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "-CreateDatabase restores a whole backup; it cannot be combined with -Table or -Schema.");
            if (request.Options.Jobs < 1 || request.Options.Jobs > 64)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "-Jobs must be between 1 and 64.");
            var source = BackupSource.Open(request.BackupPath, request.StoreOptions, log, ct, request.VerifyKey);
            source.Decryption = request.Decryption;
            RestorePlan? plan = null;
            try
            {
                if (request.Options.Jobs > 1 && source.Format == BackupFormat.Custom && source.Store.GetLocalPath(source.Name) is null)
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"-Jobs needs the archive as a local file (pg_restore restores a Custom archive in parallel only from a file); {source.Path} is restored as a stream. Restore without -Jobs, or copy it first (Copy-PgBackup -Destination <folder>).", source.Path);
                var connection = request.Connection.WithoutNeonPooler(out bool pooler);
                if (pooler) log.Verbose($"Using Neon's direct host {connection.Host} instead of its connection pooler.");
                // Without -TargetDatabase or a database in the connection string, a backup goes back under its own
                // database's name (a whole server restored: Get-PgBackup -Latest | Restore-PgBackup -ConnectionString <server>).
                var target = request.TargetDatabase ?? connection.Database ?? source.Manifest?.Database
                    ?? throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "No target database: give -TargetDatabase or a database in the connection string.");
                if (ScratchNames.IsReserved(target))
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"'{target}' is named like the databases PgBackup makes for its own use (and drops when it finds them left behind); restore into a database with another name.", target);
                var redactor = new Redactor(connection.Secrets());
                var planAdmin = DatabaseAdmin.Connect(connection, target, redactor, ct);
                plan = new RestorePlan(request, source, planAdmin, planAdmin.Server.ForChildTools(connection), redactor) { Target = target };
                var admin = plan.Admin;
                plan.TargetExists = admin.Exists(target);
                if (request.CreateDatabase && plan.TargetExists)
                    throw new PgBackupException(ErrorIds.TargetDatabaseExists, ErrorKind.ResourceExists,
                        $"The database '{target}' already exists on {connection.Server}; -CreateDatabase restores only into a new database.", target);
                if (!request.CreateDatabase && !plan.TargetExists)
                    throw new PgBackupException(ErrorIds.TargetDatabaseMissing, ErrorKind.ObjectNotFound,
                        $"The database '{target}' does not exist on {connection.Server}. Use -CreateDatabase to restore into a new database.", target)
                    { RecommendedAction = "Add -CreateDatabase." };
                if (plan.TargetExists)
                {
                    // A client that has just disconnected can still show as a session for a moment: look twice.
                    plan.OtherSessions = admin.OtherSessions(target);
                    for (int i = 0; i < 10 && plan.OtherSessions > 0 && !request.Force; i++)
                    {
                        Thread.Sleep(200);
                        plan.OtherSessions = admin.OtherSessions(target);
                    }
                    using var db = PgServer.Connect(connection.WithDatabase(target), redactor, ct);
                    plan.TargetTableCount = Convert.ToInt32(db.Scalar(
                        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'"),
                        System.Globalization.CultureInfo.InvariantCulture);
                    if (plan.OtherSessions > 0 && !request.Force && !plan.Partial)
                        throw new PgBackupException(ErrorIds.TargetDatabaseInUse, ErrorKind.ResourceBusy,
                            $"The database '{target}' has {plan.OtherSessions} other session(s); nothing was changed. Close them, or use -Force to end them (only sessions on '{target}' are ended).", target)
                        { RecommendedAction = "Stop the applications that use the database, or add -Force." };
                    if (!plan.Partial && admin.HeldBy(target) is { Count: > 0 } held)
                        throw new PgBackupException(ErrorIds.TargetDatabaseInUse, ErrorKind.ResourceBusy,
                            $"The database '{target}' holds what a restore cannot carry over ({string.Join(", ", held.Take(10))}{(held.Count > 10 ? ", ..." : "")}): " +
                            "the restored database takes the target's place, and PostgreSQL drops a database's replication slots with it (their consumers " +
                            "lose their place), refuses to drop a database that has subscriptions (the previous copy would go on applying changes), and " +
                            "would commit prepared transactions into the previous copy. Nothing was changed.", target)
                        { RecommendedAction = "Drop the slots (pg_drop_replication_slot) and subscriptions (DROP SUBSCRIPTION) when their consumers and publishers can be set up again after the restore, and finish the prepared transactions (COMMIT PREPARED or ROLLBACK PREPARED), then restore; or restore only objects inside the database (-Table, -Schema), which keeps them." };
                }
                return plan;
            }
            catch
            {
                if (plan is not null) plan.Dispose();
                else source.Dispose();
                throw;
            }
        }

        public RestoreResult Execute(RestorePlan plan, IOperationLog log, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            var start = DateTime.UtcNow;
            var request = plan.Request;
            var source = plan.Source;
            var admin = plan.Admin;
            var activity = $"Restoring {source.Name} into {plan.Target}";
            var locator = new PgToolLocator(request.Options.PgBinPath);
            admin.EnsureCanCreateDatabases(plan.Target, ct); // before the backup is read through and roles are made

            // A plain script is checked as it loads into PgBackup's new database when nothing but that database can be
            // changed before the checks pass: the target is not touched until the swap, and a changed file that passes
            // the policy could as well have been written whole (the manifest's SHA-256 is no proof against whoever can
            // write the store). A signed backup (-VerifyKey) is proven whole first, and -CreateRoles changes the server.
            bool checkWhileLoading = source.Format == BackupFormat.Plain && request.VerifyKey is null && !request.CreateRoles;
            VerificationReport? loadChecks = null;
            IReadOnlyCollection<TableRowCount>? expected;
            if (checkWhileLoading)
            {
                log.Verbose("Checking the backup (checksum, archive, script) as it loads into a new database; the target is not touched unless every check passes.");
                loadChecks = new VerificationReport();
                expected = source.Manifest?.Tables;
            }
            else
            {
                log.Progress(new ProgressInfo(activity, "Checking the backup (checksum, archive, script)"));
                var report = BackupVerifier.Verify(source, locator, deep: false, log, ct);
                foreach (var c in report.Checks) log.Verbose(c.ToString());
                if (!report.Passed) throw report.Failure!;
                expected = (IReadOnlyCollection<TableRowCount>?)source.Manifest?.Tables ?? report.ArchiveTables;
            }
            var rolesCreated = new List<string>();
            if (request.CreateRoles)
            {
                log.Progress(new ProgressInfo(activity, "Creating missing roles"));
                rolesCreated = GlobalsScript.Load(source, ct).CreateMissingRoles(admin.Server, log, ct);
            }

            ScratchDatabases.SweepStale(admin, log, ct);
            var kind = plan.Partial ? ScratchKind.Partial : ScratchKind.Restore;
            var scratch = admin.NewScratchName(kind, plan.Target);
            var shell = plan.TargetExists && !plan.Partial ? admin.ReadShell(plan.Target) : null;
            log.Verbose($"Restoring into the new database '{scratch}' first; '{plan.Target}' is not touched until the restore is verified.");
            admin.Create(scratch, shell, log, ct, admin.NewMark(kind));
            bool scratchInUse = true;
            try
            {
                var errors = ScratchRestore.Run(source, plan.Server, scratch, locator, request.Options, plan.Redactor, log, activity, ct, loadChecks);
                expected ??= loadChecks?.ArchiveTables;
                List<TableRowCount> restored;
                string verification;
                if (expected is not null)
                {
                    log.Progress(new ProgressInfo(activity, $"Counting the rows of {expected.Count} tables"));
                    log.Verbose($"Counting the rows of {expected.Count} tables in '{scratch}'.");
                    var (actual, diffs) = ScratchRestore.Verify(plan.Server, scratch, expected, plan.Redactor, ct);
                    if (diffs.Count > 0)
                        throw new PgBackupException(ErrorIds.RestoreVerificationFailed, ErrorKind.InvalidData,
                            $"The restored data does not match the {(source.Manifest is not null ? "manifest" : "backup")}: {string.Join("; ", diffs.Take(10))}. '{plan.Target}' was not changed.", plan.Target);
                    restored = actual;
                    verification = $"Row counts of all {expected.Count} tables match the {(source.Manifest is not null ? "manifest" : "backup's data")}.";
                }
                else
                {
                    restored = new List<TableRowCount>();
                    verification = "Not verified: the backup has no manifest and no readable table data.";
                }

                string mode;
                string? previous = null;
                if (plan.Partial)
                {
                    restored = CopySelection(plan, scratch, locator, log, activity, ct);
                    mode = "Partial";
                    verification = $"Row counts of the {restored.Count} restored tables match the backup.";
                }
                else if (plan.TargetExists)
                {
                    previous = admin.NewScratchName(ScratchKind.Previous, plan.Target);
                    admin.ApplySettings(scratch, shell!, log, ct);
                    log.Progress(new ProgressInfo(activity, $"Putting the restored database in the place of '{plan.Target}'"));
                    log.Verbose($"Putting '{scratch}' in the place of '{plan.Target}' (one transaction).");
                    admin.Swap(plan.Target, scratch, previous, request.Force, log, shell!.Comment, admin.NewMark(ScratchKind.Previous, kept: request.KeepPrevious));
                    scratchInUse = false;
                    if (request.KeepPrevious) log.Verbose($"The previous contents of '{plan.Target}' are kept in the database '{previous}'.");
                    else
                    {
                        log.Verbose($"Dropping the previous contents of '{plan.Target}' ('{previous}').");
                        try { admin.Drop(previous, CancellationToken.None); }
                        catch (PgBackupException e) { log.Warning($"The previous contents of '{plan.Target}' are in '{previous}'; dropping it failed: {e.Message}"); }
                        previous = null;
                    }
                    mode = "Replaced";
                }
                else
                {
                    admin.Rename(scratch, plan.Target, null);
                    scratchInUse = false;
                    mode = "Created";
                }
                log.Progress(new ProgressInfo(activity, "Done") { Completed = true });
                return new RestoreResult
                {
                    Backup = source.Path,
                    BackupName = source.Name,
                    BackupTime = source.Info.StartTime,
                    Format = source.Format,
                    Database = plan.Target,
                    Server = plan.ServerName,
                    Mode = mode,
                    StartTime = start,
                    Duration = clock.Elapsed,
                    Tables = restored.ToArray(),
                    Verified = expected is not null,
                    Verification = verification,
                    Errors = errors.ToArray(),
                    PreviousDatabase = previous,
                    RolesCreated = rolesCreated.ToArray(),
                };
            }
            catch (Exception e)
            {
                if (scratchInUse)
                {
                    try { admin.Drop(scratch, CancellationToken.None); }
                    catch (PgBackupException dropError) { log.Warning($"Could not drop the scratch database '{scratch}': {dropError.Message}"); }
                }
                if (ct.IsCancellationRequested) throw new OperationCanceledException($"The restore was stopped; '{plan.Target}' was not changed.", e, ct);
                if (e is PgBackupException pe && !pe.Message.Contains("was not changed") && !pe.Message.Contains("is unchanged"))
                    throw new PgBackupException(pe.ErrorId, pe.Kind, pe.Message.TrimEnd('.') + $". '{plan.Target}' was not changed.", pe.Target, pe) { RecommendedAction = pe.RecommendedAction };
                throw;
            }
        }

        /// <summary>
        /// -Table/-Schema: pg_dump the selected objects (with their indexes, constraints and triggers) from the verified
        /// scratch database and replace them in the target in one transaction, run by PgBackup's executor (the names in
        /// that script came from the backup); their row counts are checked in that transaction, before it commits, so
        /// the target ends up with the verified copy or exactly as it was.
        /// </summary>
        private static List<TableRowCount> CopySelection(RestorePlan plan, string scratch, PgToolLocator locator, IOperationLog log, string activity, CancellationToken ct)
        {
            var request = plan.Request;
            var serverMajor = plan.Admin.Version.Major;
            var pgDump = locator.Find("pg_dump", serverMajor, $"the server runs PostgreSQL {plan.Admin.Version}");
            var env = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var kv in plan.Server.ChildEnvironment()) env[kv.Key] = kv.Value;
            var dumpArgs = new List<string> { "--no-password", "--dbname=" + plan.Server.WithDatabase(scratch).ToLibpqConninfo(), "--clean", "--if-exists", "--format=plain" };
            foreach (var t in request.Tables ?? Array.Empty<string>()) dumpArgs.Add("--table=" + t);
            List<TableRowCount> forced;
            using (var copy = PgServer.Connect(plan.Server.WithDatabase(scratch), plan.Redactor, ct))
            {
                // pg_dump reads with row_security off: FORCE ROW LEVEL SECURITY makes that fail for an owner that is
                // neither superuser nor BYPASSRLS. It is lifted in the copy (PgBackup's, dropped after) and set again below.
                forced = copy.LiftForcedRowSecurity(log, ct);
                // A partitioned table's rows are its partitions': pg_dump -t leaves them out (before PostgreSQL 16's
                // --table-and-children), so they are named too, exactly (quoted patterns), from the restored copy.
                if (request.Tables is { Length: > 0 })
                    foreach (var part in copy.PartitionsOfMatches(request.Tables, ct))
                    {
                        dumpArgs.Add("--table=" + PgIdentifier.QuoteAsPattern(part.Schema) + "." + PgIdentifier.QuoteAsPattern(part.Name));
                        log.Verbose($"-Table: {part.QualifiedName} is a partition of a table asked for; it is replaced with it.");
                    }
            }
            foreach (var s in request.Schemas ?? Array.Empty<string>()) dumpArgs.Add("--schema=" + s);
            if (request.Options.NoOwner) dumpArgs.Add("--no-owner");
            if (request.Options.NoPrivileges) dumpArgs.Add("--no-privileges");
            log.Progress(new ProgressInfo(activity, $"Replacing the selected objects in '{plan.Target}' in one transaction"));
            var execution = new ScriptExecutionOptions { SingleTransaction = true };
            using var dump = ChildProcess.Start(pgDump.Path, dumpArgs, env, plan.Redactor);
            log.Verbose($"Running: {dump.DisplayCommandLine}, its script run by PgBackup in one transaction on '{plan.Target}'.");
            using var killOnCancel = ct.Register(dump.Kill);
            using var executor = new ScriptExecutor(execution, plan.Server.WithDatabase(plan.Target), plan.Redactor, log, null, ct);
            var reader = new PlainScriptReader(executor) { ThrowOnRefusal = true, Target = plan.Target };
            executor.Attach(reader);
            List<TableRowCount> actual;
            try
            {
                using (var sink = new PlainScriptStream(Stream.Null, reader)) StreamPump.Copy(dump.StandardOutput, sink, null, ct);
                reader.Complete();
                if (dump.WaitForExit(ct) != 0)
                    throw new PgBackupException(ErrorIds.RestoreFailed, ErrorKind.InvalidOperation, $"pg_dump could not read the selection from the restored copy: {BackupVerifier.LastLines(dump.StandardErrorText)}", plan.Target);
                if (!reader.IsComplete)
                    throw new PgBackupException(ErrorIds.RestoreFailed, ErrorKind.InvalidData, $"pg_dump's script of the selection is cut short ({reader.Truncated ?? "no closing line"}); nothing was changed.", plan.Target);
                var selected = reader.Tables.ToList();
                if (selected.Count == 0)
                    throw new PgBackupException(ErrorIds.RestoreFailed, ErrorKind.ObjectNotFound,
                        "The backup holds no table matching -Table/-Schema; nothing was changed.", plan.Target);
                // FORCE ROW LEVEL SECURITY, lifted in the copy for pg_dump, is set again on the replaced tables.
                foreach (var t in forced.Where(f => selected.Any(s => s.QualifiedName == f.QualifiedName)))
                    executor.RunOwn(PgSql.ForceRowSecurity(t.Schema, t.Name, true), $"FORCE ROW LEVEL SECURITY on {t.QualifiedName}");
                List<string> diffs;
                (actual, diffs) = executor.CheckRows(selected, ct);
                if (diffs.Count > 0)
                    throw new PgBackupException(ErrorIds.RestoreVerificationFailed, ErrorKind.InvalidData,
                        $"The replaced tables' row counts differ, so the replacement was rolled back: {string.Join("; ", diffs.Take(10))}", plan.Target);
                executor.Complete();
            }
            catch (PgBackupException e) when (e.ErrorId == ErrorIds.RestoreStatementFailed)
            {
                dump.Kill();
                throw new PgBackupException(e.ErrorId, e.Kind, $"Replacing the selected objects failed and was rolled back: {e.Message}", plan.Target, e) { RecommendedAction = e.RecommendedAction };
            }
            try { plan.Admin.Drop(scratch, CancellationToken.None); } catch (PgBackupException e) { log.Warning($"Could not drop the scratch database '{scratch}': {e.Message}"); }
            return actual;
        }
    }

    /// <summary>The outcome of a restore (<c>PgBackup.RestoreResult</c>).</summary>
    public sealed class RestoreResult
    {
        public string Backup { get; init; } = "";
        public string BackupName { get; init; } = "";
        public DateTime BackupTime { get; init; }
        public BackupFormat Format { get; init; }
        public string Database { get; init; } = "";
        public string Server { get; init; } = "";
        /// <summary>Replaced (the target's contents were replaced), Created (a new database), or Partial (-Table/-Schema).</summary>
        public string Mode { get; init; } = "";
        public DateTime StartTime { get; init; }
        public TimeSpan Duration { get; init; }
        public TableRowCount[] Tables { get; init; } = Array.Empty<TableRowCount>();
        public int TableCount => Tables.Length;
        public long RowCount => Tables.Sum(t => Math.Max(0, t.Rows));
        public bool Verified { get; init; }
        public string Verification { get; init; } = "";
        /// <summary>Errors psql or pg_restore reported and that -ContinueOnError went past.</summary>
        public string[] Errors { get; init; } = Array.Empty<string>();
        /// <summary>With -KeepPrevious: the database that holds what the target held before.</summary>
        public string? PreviousDatabase { get; init; }
        /// <summary>Roles created from the backup's saved globals (-CreateRoles).</summary>
        public string[] RolesCreated { get; init; } = Array.Empty<string>();
        public string Status => Errors.Length == 0 ? "Restored" : "RestoredWithErrors";
    }
}
