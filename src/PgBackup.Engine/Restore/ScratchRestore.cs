using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>How to run psql or pg_restore for a restore.</summary>
    public sealed class RestoreOptions
    {
        public int Jobs { get; init; } = 1;
        public bool NoOwner { get; init; }
        public bool NoPrivileges { get; init; }
        /// <summary>Go on after errors (each is reported); by default the first error stops the restore.</summary>
        public bool ContinueOnError { get; init; }
        public string? PgBinPath { get; init; }
        /// <summary>Custom/Directory: restore every definition but the data of this one table only (Export-PgBackupData).</summary>
        public (string Schema, string Name)? DataOfTableOnly { get; init; }
    }

    /// <summary>
    /// Restores a whole backup into an empty database that PgBackup created for it, and counts its rows. Plain scripts
    /// run through PgBackup's own executor (<see cref="ScriptExecutor"/>: only what pg_dump writes, only SQL and COPY
    /// data, never psql); Custom and Directory archives go to pg_restore.
    /// </summary>
    internal static class ScratchRestore
    {
        /// <summary>
        /// Runs the restore; returns the errors the server or pg_restore reported (only with ContinueOnError). With
        /// <paramref name="checkWhileLoading"/> (a plain script that no check has read before), the checks of
        /// <see cref="BackupVerifier"/> are made on the same reading and put there; the first failed one is thrown.
        /// </summary>
        public static List<string> Run(BackupSource source, PgConnectionInfo server, string database, PgToolLocator locator,
            RestoreOptions options, Redactor redactor, IOperationLog log, string activity, CancellationToken ct,
            VerificationReport? checkWhileLoading = null)
        {
            var target = server.WithDatabase(database);
            var env = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var kv in target.ChildEnvironment()) env[kv.Key] = kv.Value;
            int major = source.RequiredToolMajor();
            var errors = new List<string>();
            var progress = new ByteProgress(log, activity, source.Format == BackupFormat.Plain ? "the backup" : "pg_restore");

            if (source.Format == BackupFormat.Plain)
                return RunScript(source, target, options, redactor, log, progress, checkWhileLoading, ct);

            var pgRestore = locator.Find("pg_restore", major, major > 0 ? $"the backup was made by pg_dump {major}" : "to read the archive");
            var a = new List<string> { "--no-password", "--dbname=" + target.ToLibpqConninfo(), "--verbose" };
            if (!options.ContinueOnError) a.Add("--exit-on-error");
            if (options.NoOwner) a.Add("--no-owner");
            if (options.NoPrivileges) a.Add("--no-privileges");
            LocalCopy? copy = null;
            string? file = null;
            if (source.Format == BackupFormat.Directory)
            {
                copy = LocalCopy.OfDirectory(source, ct);
                file = copy.Path;
            }
            else if (!source.Encrypted) file = source.Store.GetLocalPath(source.Name);
            if (options.Jobs > 1 && source.Encrypted)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    "-Jobs needs the archive as a plain local file; an encrypted backup is decrypted in the stream, one job at a time (no plaintext copy is written).", source.Path);
            if (options.Jobs > 1)
            {
                if (file is null)
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "-Jobs needs the archive as a local file; copy it first (Copy-PgBackup).", source.Path);
                a.Add("--jobs=" + options.Jobs.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            string? listFile = null;
            List<string> RunPgRestore(IEnumerable<string> extra)
            {
                var args = a.Concat(extra).ToList();
                if (file is not null) args.Add(file);
                var errors = new List<string>();
                using var p = ChildProcess.Start(pgRestore.Path, args, env, redactor, redirectStdin: file is null, redirectStdout: false,
                    onStderrLine: line =>
                    {
                        if (ServerMessages.IsToolErrorLine(line)) lock (errors) errors.Add(line);
                        else if (line.StartsWith("Command was:", StringComparison.Ordinal)) lock (errors) { if (errors.Count > 0) errors[errors.Count - 1] += " " + line; }
                        else if (line.StartsWith("pg_restore: processing data for table", StringComparison.Ordinal) || line.StartsWith("pg_restore: creating", StringComparison.Ordinal))
                            log.Progress(new ProgressInfo(activity, "pg_restore") { CurrentOperation = line.Substring("pg_restore: ".Length) });
                    });
                log.Verbose("Running: " + p.DisplayCommandLine);
                using var killOnCancel = ct.Register(p.Kill);
                if (file is null)
                {
                    try
                    {
                        using var stored = source.OpenStored(n => progress.Report(n, n), ct);
                        using (var decoded = source.Decode(new NonDisposingReadStream(stored)))
                        using (var input = new NonClosingStream(p.StandardInput)) StreamPump.Copy(decoded, input, null, ct);
                        stored.ReadToEnd();
                        p.StandardInput.Dispose();
                        if (source.ExpectedSha256 is string expected && !string.Equals(stored.HashHex, expected, StringComparison.OrdinalIgnoreCase))
                        {
                            p.Kill();
                            throw new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                                "The backup changed while it was being restored (its SHA-256 no longer matches the manifest).", source.Path);
                        }
                    }
                    catch (IOException) { /* pg_restore stopped reading: its exit code and message tell why. */ }
                }
                int exit = p.WaitForExit(ct);
                lock (errors)
                {
                    if (exit != 0 && (!options.ContinueOnError || errors.Count == 0))
                    {
                        var said = errors.Count > 0 ? string.Join(Environment.NewLine, errors.Take(5)) : BackupVerifier.LastLines(p.StandardErrorText);
                        throw new PgBackupException(ErrorIds.RestoreStatementFailed, ErrorKind.InvalidOperation, $"pg_restore stopped with exit code {exit}: " + said, source.Path)
                        { RecommendedAction = RestoreAdvice.ForPgRestore(said) };
                    }
                    return errors.ToList();
                }
            }
            try
            {
                if (options.DataOfTableOnly is not { } only)
                {
                    if (options.Jobs > 1 && HasSeparateDomainConstraint(ListToc(source, pgRestore, file, redactor, ct)))
                    {
                        // pg_restore -j schedules a domain's separate (NOT VALID) constraint after the domain alone, so it
                        // can run before the data of a table that uses the domain, whose rows it then refuses. All the
                        // data first, then everything after it, each still on N connections.
                        log.Verbose("The archive has a separate domain constraint: pg_restore restores the definitions and all the data first, then the keys, indexes and constraints.");
                        var first = RunPgRestore(new[] { "--section=pre-data", "--section=data" });
                        first.AddRange(RunPgRestore(new[] { "--section=post-data" }));
                        return first;
                    }
                    return RunPgRestore(Array.Empty<string>());
                }

                // One table's rows (Export-PgBackupData): the definitions first (pre-data: no data, no keys, indexes or
                // triggers), then the data of the tables that hold its rows, which only the restored catalog knows: the
                // table, its partitions (a partitioned table holds no rows itself), and the partitioned tables above it
                // (data loaded through the root routes rows into it).
                var qualified = PgIdentifier.Qualify(only.Schema, only.Name);
                var toc = ListToc(source, pgRestore, file, redactor, ct);
                var found = RunPgRestore(new[] { "--section=pre-data" });
                List<TableRowCount> line;
                using (var db = PgServer.Connect(target, redactor, ct)) line = db.PartitionLine(only.Schema, only.Name, ct);
                var data = toc.Split('\n').Where(l => IsDataOf(l, line)).ToList();
                log.Verbose($"Restoring the definitions and only the data of {qualified}" +
                            (line.Count > 1 ? $" (with the data of {string.Join(", ", line.Where(t => t.QualifiedName != qualified).Select(t => t.QualifiedName))}, in its partition tree)." : "."));
                if (data.Count > 0)
                {
                    listFile = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pgbackup-list-" + Guid.NewGuid().ToString("n") + ".txt");
                    File.WriteAllLines(listFile, data);
                    found.AddRange(RunPgRestore(new[] { "--use-list=" + listFile }));
                }
                return found;
            }
            finally
            {
                copy?.Dispose();
                if (listFile is not null) FileCommit.TryDeleteFile(listFile);
            }
        }

        /// <summary>
        /// A plain script into the new database, each statement decided by the policy and run by the executor as it
        /// comes; with -Jobs, table data and indexes on N connections. Either the check before read the script whole
        /// (this reading must then be the same file), or <paramref name="checks"/> collects the checks of this reading:
        /// nothing it loads reaches more than the new database, which is dropped when a check fails.
        /// </summary>
        private static List<string> RunScript(BackupSource source, PgConnectionInfo target, RestoreOptions options, Redactor redactor,
            IOperationLog log, ByteProgress progress, VerificationReport? checks, CancellationToken ct)
        {
            var execution = new ScriptExecutionOptions
            {
                Jobs = options.Jobs,
                ContinueOnError = options.ContinueOnError,
                NoOwner = options.NoOwner,
                NoPrivileges = options.NoPrivileges,
                DataOfTableOnly = options.DataOfTableOnly,
                NewDatabase = true,
            };
            using var executor = new ScriptExecutor(execution, target, redactor, log, () => source.OpenScript(ct), ct);
            var reader = new PlainScriptReader(executor) { ThrowOnRefusal = true, Target = source.Path };
            executor.Attach(reader);
            var clock = Stopwatch.StartNew();
            using (var stored = source.OpenStored(n => { progress.SetOperation(executor.Status); progress.Report(n, n); }, ct))
            {
                Exception? stopped = null;
                bool hashedWhole = true;
                try
                {
                    using (var decoded = source.Decode(new NonDisposingReadStream(stored)))
                    using (var sink = new PlainScriptStream(Stream.Null, reader))
                        StreamPump.Copy(decoded, sink, null, ct);
                    reader.Complete();
                    stored.ReadToEnd();
                }
                catch (Exception e) when (checks is not null && !ct.IsCancellationRequested && !(e is OperationCanceledException))
                {
                    // As the check tells it: a changed file is best told by its checksum, so hash the rest all the same.
                    stopped = e;
                    try { stored.ReadToEnd(); } catch (Exception) when (!ct.IsCancellationRequested) { hashedWhole = false; }
                }
                if (checks is not null)
                {
                    clock.Stop();
                    bool readError = stopped is not null && BackupVerifier.IsReadError(stopped);
                    BackupVerifier.AddChecksum(checks, source, stored, hashedWhole && !readError, clock.Elapsed);
                    if (stopped is null || readError || reader.Refusal is not null)
                    {
                        BackupVerifier.AddPlainScript(checks, source, reader, readError ? stopped!.Message : null, clock.Elapsed);
                        BackupVerifier.AddRowCounts(checks, source);
                    }
                    foreach (var c in checks.Checks) log.Verbose(c.ToString());
                    if (checks.Failure is not null) throw checks.Failure;
                    if (stopped is not null) ExceptionDispatchInfo.Capture(stopped).Throw();
                }
                else
                {
                    if (reader.Truncated is not null || !reader.FooterSeen)
                        throw new PgBackupException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                            $"The script is cut short: {reader.Truncated ?? "pg_dump's 'dump complete' line is missing"}.", source.Path);
                    if (source.ExpectedSha256 is string expected && !string.Equals(stored.HashHex, expected, StringComparison.OrdinalIgnoreCase))
                        throw new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                            $"The backup changed while it was being restored (its SHA-256 no longer matches {(source.Manifest is not null ? "the manifest" : "what the check before the restore read")}).", source.Path);
                }
            }
            executor.Complete();
            return executor.Errors;
        }

        /// <summary>
        /// Whether the table of contents has a domain's constraint dumped on its own (NOT VALID, after the data): a
        /// CHECK CONSTRAINT or CONSTRAINT entry whose tag starts with a domain's name (a type and a table cannot share a
        /// name in one schema; a name with spaces can only make this say yes, which costs nothing but speed).
        /// </summary>
        internal static bool HasSeparateDomainConstraint(string toc)
        {
            var lines = toc.Split('\n').Where(l => l.Length > 0 && l[0] != ';').ToList();
            var domains = new List<string>();
            foreach (var l in lines)
            {
                int at = l.IndexOf(" DOMAIN ", StringComparison.Ordinal);
                if (at < 0) continue;
                var parts = l.Substring(at + " DOMAIN ".Length).Split(' ');
                if (parts.Length >= 2) domains.Add(parts[0] + " " + parts[1] + " ");
            }
            return domains.Count > 0 && lines.Any(l => domains.Any(d =>
                l.IndexOf(" CHECK CONSTRAINT " + d, StringComparison.Ordinal) >= 0 || l.IndexOf(" CONSTRAINT " + d, StringComparison.Ordinal) >= 0));
        }

        /// <summary>A TOC line of one of <paramref name="tables"/>' data (TABLE DATA schema name owner).</summary>
        private static bool IsDataOf(string line, IReadOnlyCollection<TableRowCount> tables)
        {
            if (line.Length == 0 || line[0] == ';') return false;
            const string data = " TABLE DATA ";
            int at = line.IndexOf(data, StringComparison.Ordinal);
            if (at < 0) return false;
            var rest = line.Substring(at + data.Length);
            return tables.Any(t => rest.StartsWith(t.Schema + " " + t.Name + " ", StringComparison.Ordinal));
        }

        /// <summary>The archive's table of contents (pg_restore --list), reading only as much of a streamed archive as needed.</summary>
        private static string ListToc(BackupSource source, PgTool pgRestore, string? file, Redactor redactor, CancellationToken ct)
        {
            using var p = ChildProcess.Start(pgRestore.Path, file is null ? new[] { "--list" } : new[] { "--list", file }, null, redactor, redirectStdin: file is null);
            var output = System.Threading.Tasks.Task.Run(() => new StreamReader(p.StandardOutput).ReadToEnd());
            if (file is null)
            {
                using var stored = source.OpenStored(null, ct);
                using var decoded = source.Decode(new NonDisposingReadStream(stored));
                var buffer = new byte[1 << 16];
                try
                {
                    int n;
                    while (!p.HasExited && (n = decoded.Read(buffer, 0, buffer.Length)) > 0) p.StandardInput.Write(buffer, 0, n);
                    p.StandardInput.Dispose();
                }
                catch (IOException) { /* pg_restore has read the table of contents and closed its input */ }
            }
            if (p.WaitForExit(ct) != 0)
                throw new PgBackupException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData, $"pg_restore cannot read the archive's table of contents: {BackupVerifier.LastLines(p.StandardErrorText)}", source.Path);
            return output.GetAwaiter().GetResult();
        }

        /// <summary>Counts the rows of <paramref name="expected"/>'s tables in <paramref name="database"/> and compares.</summary>
        public static (List<TableRowCount> Actual, List<string> Differences) Verify(PgConnectionInfo server, string database, IReadOnlyCollection<TableRowCount> expected,
            Redactor redactor, CancellationToken ct)
        {
            using var db = PgServer.Connect(server.WithDatabase(database), redactor, ct);
            return db.CheckRows(expected, ct);
        }
    }
}
