using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>The outcome of testing one backup (<c>PgBackup.TestResult</c>).</summary>
    public sealed class TestResult
    {
        public string Backup { get; init; } = "";
        public string Name { get; init; } = "";
        public string Database { get; init; } = "";
        public DateTime BackupTime { get; init; }
        public bool Passed { get; init; }
        /// <summary>Integrity only, or a restore drill.</summary>
        public string Kind { get; init; } = "Integrity";
        public CheckResult[] Checks { get; init; } = Array.Empty<CheckResult>();
        public TimeSpan Duration { get; init; }
        /// <summary>The drill's server (host:port).</summary>
        public string? Server { get; init; }
        /// <summary>The scratch database of a drill run with -Keep (dropped otherwise).</summary>
        public string? ScratchDatabase { get; init; }
        public string? Failure { get; init; }
        public int TableCount { get; init; }
        public long RowCount { get; init; }
    }

    public sealed class TestRequest
    {
        public string BackupPath { get; init; } = "";
        public StoreOptions StoreOptions { get; init; } = StoreOptions.Default;
        /// <summary>Restore into a scratch database and compare (the drill).</summary>
        public bool Restore { get; init; }
        public bool Keep { get; init; }
        /// <summary>The server for the drill (any database on it; only the scratch database is created and dropped).</summary>
        public PgConnectionInfo? Connection { get; init; }
        public RestoreOptions Options { get; init; } = new RestoreOptions();
        public DecryptionSettings Decryption { get; init; } = DecryptionSettings.None;
        /// <summary>Use only a backup whose manifest is signed by one of these keys (-VerifyKey).</summary>
        public SignatureVerifier? VerifyKey { get; init; }
    }

    /// <summary>
    /// Test-PgBackup: checks a backup's integrity (checksum, the whole archive, its row counts) and, as a drill,
    /// restores it into a scratch database with a generated name, compares, and drops it. A drill never touches any
    /// other database and never ends sessions anywhere but in its own scratch database.
    /// </summary>
    public static class BackupTester
    {
        public static (TestResult Result, PgBackupException? Failure) Run(TestRequest request, IOperationLog log, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            var checks = new List<CheckResult>();
            BackupSource? source = null;
            PgBackupException? failure = null;
            string? server = null, kept = null;
            int tables = 0;
            long rows = 0;
            try
            {
                source = BackupSource.Open(request.BackupPath, request.StoreOptions, log, ct, request.VerifyKey);
                source.Decryption = request.Decryption;
                var locator = new PgToolLocator(request.Options.PgBinPath);
                var report = BackupVerifier.Verify(source, locator, deep: !request.Restore, log, ct);
                checks.AddRange(report.Checks);
                failure = report.Failure;
                var expected = (IReadOnlyCollection<TableRowCount>?)source.Manifest?.Tables ?? report.ArchiveTables;
                if (expected is not null) { tables = expected.Count; rows = expected.Sum(t => t.Rows); }
                if (failure is null && request.Restore)
                {
                    var connection = request.Connection
                        ?? throw new PgBackupException(ErrorIds.ConnectionStringMissing, ErrorKind.InvalidArgument, "A restore drill needs a server: give -ConnectionString or set DATABASE_URL.");
                    connection = connection.WithoutNeonPooler(out _);
                    server = connection.Server;
                    failure = Drill(source, connection, expected, request, locator, checks, log, ct, out kept);
                }
            }
            catch (PgBackupException e)
            {
                failure = e;
                checks.Add(new CheckResult("Backup", false, e.Message, TimeSpan.Zero));
            }
            finally
            {
                source?.Dispose();
            }
            var info = source?.Info;
            return (new TestResult
            {
                Backup = info?.Path ?? request.BackupPath,
                Name = info?.Name ?? System.IO.Path.GetFileName(request.BackupPath),
                Database = info?.Database ?? "",
                BackupTime = info?.StartTime ?? default,
                Passed = failure is null && checks.All(c => c.Passed),
                Kind = request.Restore ? "Drill" : "Integrity",
                Checks = checks.ToArray(),
                Duration = clock.Elapsed,
                Server = server,
                ScratchDatabase = kept,
                Failure = failure?.Message,
                TableCount = tables,
                RowCount = rows,
            }, failure);
        }

        private static PgBackupException? Drill(BackupSource source, PgConnectionInfo connection, IReadOnlyCollection<TableRowCount>? expected, TestRequest request,
            PgToolLocator locator, List<CheckResult> checks, IOperationLog log, CancellationToken ct, out string? kept)
        {
            kept = null;
            var redactor = new Redactor(connection.Secrets());
            var activity = $"Restore drill of {source.Name}";
            using var admin = DatabaseAdmin.Connect(connection, null, redactor, ct);
            ScratchDatabases.SweepStale(admin, log, ct);
            var scratch = admin.NewScratchName(ScratchKind.Drill);
            if (string.Equals(scratch, source.Info.Database, StringComparison.Ordinal) || string.Equals(scratch, connection.Database, StringComparison.Ordinal))
                throw new PgBackupException(ErrorIds.DrillFailed, ErrorKind.InvalidOperation, $"The scratch name '{scratch}' equals the source database; the drill did not run.");
            log.Verbose($"Drill: restoring into the new scratch database '{scratch}' on {connection.Server}.");
            var clock = Stopwatch.StartNew();
            var mark = admin.NewMark(ScratchKind.Drill);
            admin.Create(scratch, null, log, ct, mark);
            PgBackupException? error = null;
            try
            {
                var errors = ScratchRestore.Run(source, admin.Server.ForChildTools(connection), scratch, locator, request.Options, redactor, log, activity, ct);
                checks.Add(new CheckResult("Restore", true, $"Restored into '{scratch}' in {clock.Elapsed.TotalSeconds:0.0} s" + (errors.Count > 0 ? $" with {errors.Count} error(s) ignored" : "") + ".", clock.Elapsed));
                if (expected is not null)
                {
                    clock.Restart();
                    var (_, diffs) = ScratchRestore.Verify(connection, scratch, expected, redactor, ct);
                    checks.Add(new CheckResult("RestoredRowCounts", diffs.Count == 0,
                        diffs.Count == 0 ? $"All {expected.Count} tables have the manifest's row counts." : "Row counts differ: " + string.Join("; ", diffs.Take(10)), clock.Elapsed));
                    if (diffs.Count > 0)
                        error = new PgBackupException(ErrorIds.DrillFailed, ErrorKind.InvalidData,
                            $"The restore drill of {source.Name} found different row counts: {string.Join("; ", diffs.Take(10))}", source.Path);
                }
            }
            catch (PgBackupException e)
            {
                checks.Add(new CheckResult("Restore", false, e.Message, clock.Elapsed));
                error = new PgBackupException(ErrorIds.DrillFailed, e.Kind, $"The restore drill of {source.Name} failed: {e.Message}", source.Path, e) { RecommendedAction = e.RecommendedAction };
            }
            finally
            {
                // Also on Ctrl+C: the scratch database never outlives the drill unless -Keep asked for it.
                if (!request.Keep || ct.IsCancellationRequested)
                {
                    var c = Stopwatch.StartNew();
                    try
                    {
                        admin.Drop(scratch, CancellationToken.None);
                        checks.Add(new CheckResult("Cleanup", true, $"Dropped the scratch database '{scratch}'.", c.Elapsed));
                    }
                    catch (PgBackupException e)
                    {
                        checks.Add(new CheckResult("Cleanup", false, $"Could not drop '{scratch}': {e.Message}", c.Elapsed));
                        error ??= new PgBackupException(ErrorIds.DrillFailed, ErrorKind.InvalidOperation, $"The drill could not drop its scratch database '{scratch}': {e.Message}", scratch, e);
                    }
                }
            }
            if (request.Keep)
            {
                // Still PgBackup's (listed by Get-PgBackupScratchDatabase), but never swept: removed only by name.
                try { admin.Comment(scratch, (mark with { Kept = true }).ToComment()); }
                catch (PgBackupException e) { log.Warning($"Could not mark '{scratch}' as kept; a later PgBackup run may drop it once this process has ended: {e.Message}"); }
                kept = scratch;
                checks.Add(new CheckResult("Cleanup", true, $"Kept the scratch database '{scratch}' (-Keep).", TimeSpan.Zero));
            }
            return error;
        }
    }
}
