using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// Reads a whole backup without touching any database: the SHA-256 against the manifest, the archive to its end
    /// (decompressed; for Plain scripts, scanned for psql meta-commands and pg_dump's footer; for Custom and Directory
    /// archives, their table of contents, and with <c>deep</c> all their data through pg_restore), and the row counts
    /// the archive holds against the manifest's.
    /// </summary>
    public static class BackupVerifier
    {
        public static VerificationReport Verify(BackupSource source, PgToolLocator locator, bool deep, IOperationLog log, CancellationToken ct)
        {
            var report = new VerificationReport();
            var activity = $"Checking {source.Name}";
            try
            {
                if (source.Format == BackupFormat.Directory) VerifyDirectory(source, locator, deep, report, log, activity, ct);
                else VerifyFile(source, locator, deep, report, log, activity, ct);
            }
            finally
            {
                log.Progress(new ProgressInfo(activity, "Done") { Completed = true, ActivityId = 1 });
            }
            AddRowCounts(report, source);
            return report;
        }

        private static void Add(VerificationReport report, string name, bool passed, string detail, TimeSpan duration, string errorId, string target)
        {
            report.Checks.Add(new CheckResult(name, passed, detail, duration));
            if (!passed && report.Failure is null)
                report.Failure = new PgBackupException(errorId, errorId == ErrorIds.UnsafeMetaCommand ? ErrorKind.SecurityError : ErrorKind.InvalidData, detail, target);
        }

        /// <summary>The stored bytes against the manifest's size and SHA-256 (read to their end by the caller).</summary>
        internal static void AddChecksum(VerificationReport report, BackupSource source, HashingReadStream stored, bool readToEnd, TimeSpan duration)
        {
            if (source.Manifest is not null)
            {
                bool sizeOk = stored.BytesRead == source.Manifest.SizeBytes;
                bool hashOk = readToEnd && string.Equals(stored.HashHex, source.Manifest.Sha256, StringComparison.OrdinalIgnoreCase);
                Add(report, "Checksum", sizeOk && hashOk,
                    hashOk && sizeOk ? $"SHA-256 {source.Manifest.Sha256.Substring(0, 12)}... matches the manifest ({stored.BytesRead:N0} bytes)."
                        : !sizeOk ? $"The file has {stored.BytesRead:N0} bytes; the manifest says {source.Manifest.SizeBytes:N0}: it was truncated or changed."
                        : "The file's SHA-256 differs from the manifest's: it was changed or damaged after the backup.",
                    duration, sizeOk ? ErrorIds.BackupChecksumMismatch : ErrorIds.BackupSizeMismatch, source.Path);
            }
            else
                report.Checks.Add(new CheckResult("Checksum", true, "No manifest (made by another tool): nothing to compare the SHA-256 with.", duration));
        }

        /// <summary>
        /// A plain script read to its end (or stopped by <paramref name="readError"/> or the reader's refusal): the
        /// refusal, pg_dump's footer, the statements, and the row counts its data holds.
        /// </summary>
        internal static void AddPlainScript(VerificationReport report, BackupSource source, PlainScriptReader? scanner, string? readError, TimeSpan duration)
        {
            if (scanner is not null) source.LearnFromPlainHeader(scanner.Header);
            var refusal = readError is null ? scanner?.Refusal : null;
            // A refusal comes first: it is the report's failure (the graver finding) even when the file is also cut short.
            if (refusal is not null)
                Add(report, "Script", false, refusal.Message, TimeSpan.Zero, refusal.ErrorId, source.Path);
            bool ok = readError is null && refusal is null && scanner is not null && scanner.FooterSeen && scanner.Truncated is null;
            Add(report, "Archive", ok,
                readError is not null ? $"The file cannot be decompressed to its end: {readError}"
                    : refusal is not null ? "Not read to its end: it holds something PgBackup does not run (see the Script check)."
                    : ok ? $"Decompressed to its end: {scanner!.Lines:N0} lines, pg_dump's closing line present."
                    : $"The script is cut short: {scanner!.Truncated ?? "it ends before pg_dump's 'dump complete' line"}.",
                duration, ErrorIds.BackupCorrupt, source.Path);
            if (scanner is not null && readError is null && refusal is null)
            {
                Add(report, "Script", true,
                    $"All {scanner.Statements:N0} statements are ones pg_dump writes; no psql meta-command but pg_dump's own.", TimeSpan.Zero, ErrorIds.UnsafeStatement, source.Path);
                report.ArchiveTables = scanner.Tables.ToList();
                report.ArchivePartitionRoot = scanner.Policy.PartitionRoot;
            }
        }

        /// <summary>The row counts the archive holds against the manifest's.</summary>
        internal static void AddRowCounts(VerificationReport report, BackupSource source)
        {
            if (report.ArchiveTables is not null && source.Manifest is not null && report.Passed)
            {
                var archive = report.ArchiveTables;
                var rootOf = report.ArchivePartitionRoot;
                var diffs = RowCountComparer.Differences(source.Manifest.Tables, archive, rootOf,
                    root => archive.Where(t => (rootOf?.Invoke(t.QualifiedName) ?? t.QualifiedName) == root).Sum(t => t.Rows));
                Add(report, "RowCounts", diffs.Count == 0,
                    diffs.Count == 0 ? $"The archive holds the manifest's {source.Manifest.Tables.Count} tables with the same row counts."
                        : "The archive's row counts differ from the manifest's: " + string.Join("; ", diffs.Take(10)),
                    TimeSpan.Zero, ErrorIds.BackupCorrupt, source.Path);
            }
        }

        /// <summary>Errors of reading a stored backup (damaged, cut, undecryptable) that the checks report as findings.</summary>
        internal static bool IsReadError(Exception e) =>
            PgBackup.Compression.IsDamagedData(e) || (e is IOException && !(e is FileNotFoundException))
            || (e is PgBackupException pe && (pe.ErrorId == ErrorIds.IntegrityCheckFailed || pe.ErrorId == ErrorIds.DecryptionFailed));

        private static void VerifyFile(BackupSource source, PgToolLocator locator, bool deep, VerificationReport report, IOperationLog log, string activity, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            long total = source.Info.SizeBytes;
            Action<long> progress = n => log.Progress(new ProgressInfo(activity, $"{n / (1 << 20)} of {total / (1 << 20)} MB read")
            { PercentComplete = total > 0 ? (int)Math.Min(100, n * 100 / total) : -1, ActivityId = 1 });
            using var stored = source.OpenStored(progress, ct);
            string? readError = null;
            PlainScriptReader? scanner = null;
            string? toc = null;
            int tocExit = 0;
            string tocError = "";

            try
            {
                if (source.Format == BackupFormat.Plain)
                {
                    scanner = new PlainScriptReader();
                    using var decoded = source.Decode(new NonDisposingReadStream(stored));
                    using var sink = new PlainScriptStream(Stream.Null, scanner);
                    StreamPump.Copy(decoded, sink, null, ct);
                    scanner.Complete();
                    stored.ReadToEnd();
                }
                else
                {
                    // Custom: pg_restore reads the archive from its stdin: its table of contents, or (deep) everything.
                    var tool = FindPgRestore(source, locator, report);
                    if (tool is null) { stored.ReadToEnd(); }
                    else
                    {
                        var args = deep ? new[] { "--file=-" } : new[] { "--list" };
                        using var p = ChildProcess.Start(tool.Path, args, null, Redactor.None, redirectStdin: true);
                        Task<string>? listing = null;
                        Task? scanning = null;
                        if (deep)
                        {
                            // pg_restore's script of the archive, only for its row counts.
                            scanner = new PlainScriptReader { StopOnRefusal = false };
                            var sc = scanner;
                            scanning = Task.Run(() =>
                            {
                                using var sink = new PlainScriptStream(Stream.Null, sc);
                                p.StandardOutput.CopyTo(sink, 1 << 20);
                                sc.Complete();
                            });
                        }
                        else listing = Task.Run(() => new StreamReader(p.StandardOutput, Encoding.UTF8).ReadToEnd());
                        using (var decoded = source.Decode(new NonDisposingReadStream(stored)))
                        using (var tee = new TeeStream(new NullSinkStream(), p.StandardInput))
                            StreamPump.Copy(decoded, tee, null, ct);
                        stored.ReadToEnd();
                        tocExit = p.WaitForExit(ct);
                        if (listing is not null) toc = listing.GetAwaiter().GetResult();
                        scanning?.GetAwaiter().GetResult();
                        tocError = p.StandardErrorText;
                    }
                }
            }
            catch (Exception e) when (IsReadError(e))
            {
                readError = e.Message;
                // Hash the whole stored file all the same: a changed file is best told by its checksum.
                try { stored.ReadToEnd(); } catch (Exception) when (!ct.IsCancellationRequested) { }
            }
            clock.Stop();
            // What the restore pass must read again (a backup without manifest has no other reference).
            if (readError is null) source.CheckedSha256 = stored.HashHex;

            AddChecksum(report, source, stored, readError is null, clock.Elapsed);
            if (source.Format == BackupFormat.Plain)
            {
                AddPlainScript(report, source, scanner, readError, clock.Elapsed);
            }
            else if (report.Checks.All(c => c.Name != "Tool" || c.Passed))
            {
                bool ok = readError is null && tocExit == 0;
                Add(report, "Archive", ok,
                    ok ? (deep ? "pg_restore read the whole archive." : $"pg_restore read its table of contents ({CountEntries(toc)} entries).")
                        : $"pg_restore cannot read the archive: {(readError ?? LastLines(tocError))}",
                    clock.Elapsed, ErrorIds.BackupCorrupt, source.Path);
                if (deep && ok && scanner is not null)
                {
                    report.ArchiveTables = scanner.Tables.ToList();
                    report.ArchivePartitionRoot = scanner.Policy.PartitionRoot;
                }
            }
        }

        private static void VerifyDirectory(BackupSource source, PgToolLocator locator, bool deep, VerificationReport report, IOperationLog log, string activity, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            var manifest = source.Manifest;
            if (manifest?.Files is null)
            {
                report.Checks.Add(new CheckResult("Checksum", true, "No manifest: nothing to compare the files with.", TimeSpan.Zero));
            }
            else
            {
                var problems = new List<string>();
                var present = new HashSet<string>(ListFiles(source, ct), StringComparer.Ordinal);
                var actual = new List<BackupFileEntry>();
                foreach (var f in manifest.Files)
                {
                    ct.ThrowIfCancellationRequested();
                    if (!present.Contains(f.Name)) { problems.Add($"{f.Name} is missing"); continue; }
                    using var s = new HashingReadStream(source.Store.OpenRead(source.Name + "/" + f.Name, ct));
                    s.ReadToEnd();
                    if (s.BytesRead != f.SizeBytes || !string.Equals(s.HashHex, f.Sha256, StringComparison.OrdinalIgnoreCase))
                        problems.Add($"{f.Name} differs ({s.BytesRead:N0} bytes)");
                    actual.Add(new BackupFileEntry { Name = f.Name, SizeBytes = s.BytesRead, Sha256 = s.HashHex });
                }
                foreach (var extra in present.Except(manifest.Files.Select(f => f.Name))) problems.Add($"{extra} is not in the manifest");
                if (problems.Count == 0 && !string.Equals(BackupEngine.DirectoryHash(actual), manifest.Sha256, StringComparison.OrdinalIgnoreCase))
                    problems.Add("the combined SHA-256 differs");
                Add(report, "Checksum", problems.Count == 0,
                    problems.Count == 0 ? $"All {manifest.Files.Count} files match the manifest's SHA-256." : "The backup's files differ from the manifest: " + string.Join("; ", problems.Take(10)),
                    clock.Elapsed, ErrorIds.BackupChecksumMismatch, source.Path);
                if (problems.Count > 0) return;
            }

            var tool = FindPgRestore(source, locator, report);
            if (tool is null) return;
            clock.Restart();
            using var local = LocalCopy.OfDirectory(source, ct);
            var args = deep ? new[] { "--file=-", local.Path } : new[] { "--list", local.Path };
            using var p = ChildProcess.Start(tool.Path, args, null, Redactor.None);
            PlainScriptReader? scanner = null;
            string toc = "";
            if (deep)
            {
                scanner = new PlainScriptReader { StopOnRefusal = false };
                using var sink = new PlainScriptStream(Stream.Null, scanner);
                StreamPump.Copy(p.StandardOutput, sink, null, ct);
                scanner.Complete();
            }
            else toc = new StreamReader(p.StandardOutput, Encoding.UTF8).ReadToEnd();
            int exit = p.WaitForExit(ct);
            Add(report, "Archive", exit == 0,
                exit == 0 ? (deep ? "pg_restore read the whole archive." : $"pg_restore read its table of contents ({CountEntries(toc)} entries).")
                    : $"pg_restore cannot read the archive: {LastLines(p.StandardErrorText)}",
                clock.Elapsed, ErrorIds.BackupCorrupt, source.Path);
            if (deep && exit == 0)
            {
                report.ArchiveTables = scanner!.Tables.ToList();
                report.ArchivePartitionRoot = scanner.Policy.PartitionRoot;
            }
        }

        internal static IEnumerable<string> ListFiles(BackupSource source, CancellationToken ct)
        {
            var pending = new Stack<string>();
            pending.Push(source.Name);
            while (pending.Count > 0)
            {
                var dir = pending.Pop();
                foreach (var e in source.Store.List(dir, ct))
                {
                    if (e.IsDirectory) pending.Push(e.Name);
                    else yield return e.Name.Substring(source.Name.Length + 1);
                }
            }
        }

        internal static PgTool? FindPgRestore(BackupSource source, PgToolLocator locator, VerificationReport report)
        {
            int major = source.RequiredToolMajor();
            try
            {
                var tool = locator.Find("pg_restore", major, major > 0 ? $"the backup was made by pg_dump {major}" : "to read the archive");
                report.Checks.Add(new CheckResult("Tool", true, $"{tool} can read archives of pg_dump {(major > 0 ? major.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(unknown version)")}.", TimeSpan.Zero));
                return tool;
            }
            catch (PgBackupException e)
            {
                report.Checks.Add(new CheckResult("Tool", false, e.Message, TimeSpan.Zero));
                report.Failure ??= e;
                return null;
            }
        }

        private static int CountEntries(string? toc) =>
            toc is null ? 0 : toc.Split('\n').Count(l => l.Length > 0 && l[0] != ';' && char.IsDigit(l[0]));

        internal static string LastLines(string text) =>
            string.Join(" ", Enumerable.Reverse(Enumerable.Reverse(text.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries)).Take(4))).Trim();
    }

    /// <summary>A read stream that leaves its inner stream open (so that it can be read to its end afterwards).</summary>
    public sealed class NonDisposingReadStream : ReadOnlyStream
    {
        private readonly Stream _inner;
        public NonDisposingReadStream(Stream inner) { _inner = inner; }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    }

    /// <summary>
    /// A Directory-format backup as a local folder for pg_restore: the backup's own folder when the store is local, or
    /// a temporary copy (removed on Dispose) when it is not.
    /// </summary>
    public sealed class LocalCopy : IDisposable
    {
        private readonly bool _temporary;

        private LocalCopy(string path, bool temporary)
        {
            Path = path;
            _temporary = temporary;
        }

        public string Path { get; }

        public static LocalCopy OfDirectory(BackupSource source, CancellationToken ct)
        {
            var local = source.Store.GetLocalPath(source.Name);
            if (local is not null) return new LocalCopy(local, false);
            var temp = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pgbackup-" + Guid.NewGuid().ToString("n").Substring(0, 12));
            Directory.CreateDirectory(temp);
            try
            {
                foreach (var file in BackupVerifier.ListFiles(source, ct))
                {
                    var target = StoreName.LocalPath(temp, file);
                    Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
                    using var input = source.Store.OpenRead(source.Name + "/" + file, ct);
                    using var output = File.Create(target);
                    input.CopyTo(output, 1 << 20);
                }
            }
            catch
            {
                FileCommit.TryDeleteDirectory(temp);
                throw;
            }
            return new LocalCopy(temp, true);
        }

        public void Dispose()
        {
            if (_temporary && Directory.Exists(Path))
                FileCommit.TryDeleteDirectory(Path);
        }
    }
}
