using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using Npgsql;

namespace PgBackup
{
    public sealed class ExportRequest
    {
        public string BackupPath { get; init; } = "";
        public StoreOptions StoreOptions { get; init; } = StoreOptions.Default;
        /// <summary>The server for the scratch database (any database on it).</summary>
        public PgConnectionInfo Connection { get; init; } = null!;
        /// <summary><c>table</c> or <c>schema.table</c> (quoted names as in SQL).</summary>
        public string Table { get; init; } = "";
        /// <summary>A SQL condition for the rows (the part after WHERE).</summary>
        public string? Where { get; init; }
        /// <summary>Write CSV with a header line here instead of returning rows.</summary>
        public string? OutFile { get; init; }
        public DecryptionSettings Decryption { get; init; } = DecryptionSettings.None;
        public RestoreOptions Options { get; init; } = new RestoreOptions();
        /// <summary>Use only a backup whose manifest is signed by one of these keys (-VerifyKey).</summary>
        public SignatureVerifier? VerifyKey { get; init; }
    }

    /// <summary>The outcome of an export to a file (<c>PgBackup.ExportResult</c>).</summary>
    public sealed class ExportResult
    {
        public string Backup { get; init; } = "";
        public DateTime BackupTime { get; init; }
        public string Table { get; init; } = "";
        public string? Where { get; init; }
        public long Rows { get; init; }
        public string? OutFile { get; init; }
        public TimeSpan Duration { get; init; }
    }

    /// <summary>
    /// Export-PgBackupData: gets rows back from a backup (the guide's "accidental deletion" scenario). The backup's
    /// definitions and the one table's data are restored into a scratch database, the rows are selected, and the
    /// scratch database is dropped.
    /// </summary>
    public static class DataExporter
    {
        public static (ExportResult Result, List<(string Name, object? Value)[]> Rows) Export(ExportRequest request, IOperationLog log, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            if (!PgIdentifier.TryParseQualified(request.Table, out var schema, out var name))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"'{request.Table}' is not a table name (table or schema.table).", request.Table);
            var qualified = PgIdentifier.Qualify(schema, name);
            using var source = BackupSource.Open(request.BackupPath, request.StoreOptions, log, ct, request.VerifyKey);
            source.Decryption = request.Decryption;
            var locator = new PgToolLocator(request.Options.PgBinPath);
            var report = BackupVerifier.Verify(source, locator, deep: false, log, ct);
            if (!report.Passed) throw report.Failure!;
            var connection = request.Connection.WithoutNeonPooler(out _);
            var redactor = new Redactor(connection.Secrets());
            using var admin = DatabaseAdmin.Connect(connection, null, redactor, ct);
            ScratchDatabases.SweepStale(admin, log, ct);
            var scratch = admin.NewScratchName(ScratchKind.Export);
            var activity = $"Exporting {qualified} from {source.Name}";
            log.Verbose($"Restoring {source.Name} into the scratch database '{scratch}' on {connection.Server}.");
            admin.Create(scratch, null, log, ct, admin.NewMark(ScratchKind.Export));
            try
            {
                // Every definition, but only this table's data, without owners, grants or foreign keys (pg_restore's
                // list for Custom and Directory backups, PgBackup's executor for Plain ones).
                var options = new RestoreOptions
                {
                    NoOwner = true,
                    NoPrivileges = true,
                    ContinueOnError = request.Options.ContinueOnError,
                    PgBinPath = request.Options.PgBinPath,
                    DataOfTableOnly = (schema, name),
                };
                ScratchRestore.Run(source, admin.Server.ForChildTools(connection), scratch, locator, options, redactor, log, activity, ct);
                using var db = PgServer.Connect(connection.WithDatabase(scratch), redactor, ct);
                if (db.Scalar("SELECT to_regclass(@q) IS NOT NULL", ("q", qualified)) is not true)
                    throw new PgBackupException(ErrorIds.ExportFailed, ErrorKind.ObjectNotFound, $"The backup {source.Name} holds no table {qualified}.", request.Table);
                // Every row the backup holds, never those a policy lets this role see: row security off (an error, not
                // fewer rows, where it would apply), and FORCE ROW LEVEL SECURITY lifted in this scratch copy for an owner
                // that is neither superuser nor BYPASSRLS.
                db.LiftForcedRowSecurity(log, ct);
                db.Execute("SET row_security = off");
                var sql = PgSql.SelectRows(schema, name, request.Where);
                var rows = new List<(string, object?)[]>();
                long count;
                try
                {
                    if (request.OutFile is not null)
                        count = db.CopyOutCsv(sql, request.OutFile, ct);
                    else
                    {
                        rows = db.QueryNamed(sql, ct);
                        count = rows.Count;
                    }
                }
                catch (PgBackupException e) when (e.ErrorId == ErrorIds.ServerQueryFailed)
                {
                    throw new PgBackupException(ErrorIds.ExportFailed, ErrorKind.InvalidArgument, $"Selecting the rows failed: {e.Message}", request.Where, e);
                }
                log.Verbose($"{count} row(s) of {qualified}{(request.Where is null ? "" : " where " + request.Where)}.");
                return (new ExportResult
                {
                    Backup = source.Path,
                    BackupTime = source.Info.StartTime,
                    Table = qualified,
                    Where = request.Where,
                    Rows = count,
                    OutFile = request.OutFile,
                    Duration = clock.Elapsed,
                }, rows);
            }
            finally
            {
                try { admin.Drop(scratch, CancellationToken.None); }
                catch (PgBackupException e) { log.Warning($"Could not drop the scratch database '{scratch}': {e.Message}"); }
            }
        }
    }
}
