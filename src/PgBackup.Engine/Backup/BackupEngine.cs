using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

using PgBackup.Native;

namespace PgBackup
{
    /// <summary>What New-PgBackup was asked to do.</summary>
    public sealed class BackupRequest
    {
        public PgConnectionInfo Connection { get; init; } = null!;
        public IBackupStore Store { get; init; } = null!;
        public BackupFormat Format { get; init; } = BackupFormat.Plain;
        public CompressionMethod Compression { get; init; } = CompressionMethod.Gzip;
        public int? CompressionLevel { get; init; }
        public int Jobs { get; init; } = 1;
        public BackupScope Scope { get; init; } = new BackupScope();
        public string? PgBinPath { get; init; }
        public string ModuleVersion { get; init; } = "";
        /// <summary>Also save the cluster's roles and other globals (pg_dumpall --globals-only) beside the backup.</summary>
        public bool Globals { get; init; }
        /// <summary>With <see cref="Globals"/>: leave out role passwords (pg_dumpall --no-role-passwords).</summary>
        public bool NoRolePasswords { get; init; }
        /// <summary>Encrypt in the stream, after compression (OpenPGP); no plaintext copy is written.</summary>
        public EncryptionSettings Encryption { get; init; } = new EncryptionSettings();
        /// <summary>Sign the manifest with this key (<c>&lt;name&gt;.json.sig</c>); null: unsigned.</summary>
        public SigningKey? Signing { get; init; }
        /// <summary>Partial files untouched for this long are left by dead backups and are removed.</summary>
        public TimeSpan StalePartialAge { get; init; } = TimeSpan.FromHours(24);
        /// <summary>
        /// How long pg_dump may wait for the shared locks on the tables it dumps (pg_dump --lock-wait-timeout); null:
        /// as long as it takes. A session holding an exclusive lock would otherwise hold an unattended backup.
        /// </summary>
        public int? LockWaitTimeoutSeconds { get; init; }
        /// <summary>pg_dump, PgBackup's native engine, or (Auto) pg_dump when a fitting one is found and the native engine otherwise.</summary>
        public DumpEngine Engine { get; init; } = DumpEngine.Auto;
        /// <summary>
        /// The store's names for a run of several backups into it (-AllDatabases), listed and swept once for the run;
        /// null: this backup lists the store (and sweeps its stale partial files) itself.
        /// </summary>
        public BackupNameRegistry? Names { get; init; }
        /// <summary>
        /// The roles script already made once for several backups (-AllDatabases -Globals): saved beside this backup
        /// as it is, instead of running pg_dumpall again. Any engine can carry it.
        /// </summary>
        public GlobalsDump? PreparedGlobals { get; init; }

        /// <summary>This request for another database of the same server (-AllDatabases), with the run's shared names and roles script.</summary>
        public BackupRequest ForDatabase(string database, BackupNameRegistry names, GlobalsDump? globals) => new BackupRequest
        {
            Connection = Connection.WithDatabase(database),
            Store = Store,
            Format = Format,
            Compression = Compression,
            CompressionLevel = CompressionLevel,
            Jobs = Jobs,
            Scope = Scope,
            PgBinPath = PgBinPath,
            ModuleVersion = ModuleVersion,
            Globals = globals is not null,
            NoRolePasswords = NoRolePasswords,
            Encryption = Encryption,
            Signing = Signing,
            StalePartialAge = StalePartialAge,
            LockWaitTimeoutSeconds = LockWaitTimeoutSeconds,
            Engine = Engine,
            Names = names,
            PreparedGlobals = globals,
        };
    }

    /// <summary>The output of pg_dumpall --globals-only (the cluster's roles, memberships and role settings), in memory.</summary>
    public sealed class GlobalsDump
    {
        public byte[] Script { get; init; } = Array.Empty<byte>();
        public bool WithoutPasswords { get; init; }
        public string[] Roles { get; init; } = Array.Empty<string>();
    }

    /// <summary>
    /// Makes one backup as one streaming pipeline: pg_dump's output (the source) through stages (row count, compress,
    /// hash) into a store's writer (the sink), committed only when every part succeeded.
    /// </summary>
    public sealed class BackupEngine
    {
        private static readonly Regex TableDataLine = new Regex(@"^\s*\d+;\s+\d+\s+(\d+)\s+TABLE DATA\s", RegexOptions.Compiled | RegexOptions.Multiline);

        public BackupInfo Run(BackupRequest request, IOperationLog log, CancellationToken cancellationToken)
        {
            Validate(request);
            var connection = request.Connection.WithoutNeonPooler(out bool pooler);
            if (pooler)
                log.Verbose($"Using Neon's direct host {connection.Host} instead of its connection pooler: pg_dump needs a direct connection.");
            var redactor = new Redactor(connection.Secrets());
            var activity = $"Backing up {connection.Database ?? "database"}";
            log.Progress(new ProgressInfo(activity, $"Connecting to {connection.Server}"));

            // The store's first requests (for a bucket: loading the AWS SDK, connecting, two listings) run while this
            // thread connects to PostgreSQL and finds pg_dump; their result is needed only to name the backup. When
            // this run fails first (a failed connection), they are stopped, and waited for, before it returns.
            var store = request.Store;
            using var existingNames = request.Names is not null ? null : BackgroundWork<List<string>>.Start(ct =>
            {
                // One listing serves both: names the sweep removes stay in the list, which only keeps a new name
                // from being one of them.
                var listing = store.List(null, ct);
                BackupCatalog.SweepStalePartials(store, request.StalePartialAge, log, ct, listing);
                return listing.Select(e => e.Name).ToList();
            }, cancellationToken);

            using var server = PgServer.Connect(connection, redactor, cancellationToken);
            log.Verbose($"Connected to {connection.Server}, database '{server.Database}', PostgreSQL {server.VersionText}.");
            connection = server.ForChildTools(connection.WithDatabase(server.Database));

            int neededMajor = server.Version.Major;
            string why = $"the server runs PostgreSQL {server.Version}";
            bool pgDumpCompressesZstd = request.Format != BackupFormat.Plain && request.Compression == CompressionMethod.Zstd;
            if (pgDumpCompressesZstd && neededMajor < 16)
            {
                neededMajor = 16;
                why += $", and zstd compression of {request.Format}-format archives needs pg_dump 16";
            }
            var locator = new PgToolLocator(request.PgBinPath);
            var engine = ChooseEngine(request, server, locator, neededMajor, why, log, out var pgDump);
            var level = request.CompressionLevel ?? Compression.DefaultLevel(request.Compression);
            if (request.Format == BackupFormat.Plain && request.Compression == CompressionMethod.Gzip && Compression.GzipLevelUsed(level) != level)
                log.Verbose($"Gzip level {level} is written as level {Compression.GzipLevelUsed(level)}: this build's gzip writes levels {Compression.GzipLevels}.");

            var start = DateTime.UtcNow;
            var name = request.Names is not null
                ? request.Names.Reserve(server.Database, start, request.Format, request.Compression, request.Encryption.IsEnabled)
                : BackupNaming.NewName(server.Database, start, request.Format, request.Compression, request.Encryption.IsEnabled, existingNames!.Result());
            log.Verbose($"Writing {store.GetPath(name)}.");

            // Custom and Directory archives are counted from the server, in the very snapshot pg_dump reads.
            string? snapshot = request.Format == BackupFormat.Plain || engine == DumpEngine.Native ? null : server.ExportSnapshot();

            var manifest = new BackupManifest
            {
                ModuleVersion = request.ModuleVersion,
                Name = name,
                Database = server.Database,
                Host = connection.Host ?? "localhost",
                Port = connection.Port,
                User = connection.User,
                ServerVersion = server.Version.ToString(),
                PgDumpVersion = pgDump?.Version.ToString() ?? "",
                Engine = engine.ToString(),
                Format = request.Format,
                Compression = request.Compression,
                CompressionLevel = request.Compression == CompressionMethod.None ? (int?)null : level,
                StartTime = start,
                Scope = request.Scope,
            };

            if (engine == DumpEngine.Native)
                RunNative(request, manifest, redactor, connection, log, activity, cancellationToken);
            else
            {
                var args = PgDumpArguments(request, connection, pgDump!.Version, level, snapshot);
                if (request.Format == BackupFormat.Directory)
                    RunDirectory(request, server, pgDump, args, manifest, locator, redactor, connection, log, activity, cancellationToken);
                else
                    RunStreamed(request, server, pgDump, args, manifest, locator, redactor, connection, log, activity, cancellationToken);
            }

            log.Progress(new ProgressInfo(activity, "Done") { Completed = true });
            var info = BackupInfo.FromManifest(manifest, store, BackupStatus.Complete, null);
            info.Signed = request.Signing is not null;
            if (info.Signed) log.Verbose($"Signed its manifest with the key {request.Signing!.KeyId} ({BackupNaming.SignatureName(manifest.Name)}).");
            return info;
        }

        private static void Validate(BackupRequest r)
        {
            if (r.Jobs < 1 || r.Jobs > 64)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"-Jobs must be between 1 and 64; {r.Jobs} was given.", r.Jobs);
            if (r.Jobs > 1 && r.Format == BackupFormat.Custom || r.Jobs > 1 && r.Format == BackupFormat.Plain && r.Engine == DumpEngine.PgDump)
                throw JobsNeedDirectoryOrNative(r.Jobs);
            if (r.CompressionLevel.HasValue) Compression.ValidateLevel(r.Compression, r.CompressionLevel.Value);
            if (r.Encryption.IsEnabled && r.Format == BackupFormat.Directory)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    "A Directory-format backup cannot be encrypted in the stream: pg_dump writes its files itself. Use -Format Custom or Plain with encryption.");
            if (r.Encryption.IsEnabled) OpenPgp.Check(r.Encryption);
            if (r.Scope.SchemaOnly && r.Scope.DataOnly)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "-SchemaOnly and -DataOnly cannot be used together.");
        }

        private static PgBackupException JobsNeedDirectoryOrNative(int jobs) =>
            new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                "-Jobs works with -Format Directory (pg_dump dumps in parallel only into a folder) and with Plain backups of the native engine (-Engine Auto or Native).", jobs);

        /// <summary>Why the native engine cannot make this backup, or null when it can.</summary>
        private static string? NativeBlocker(BackupRequest r, PgServer server)
        {
            if (r.Format != BackupFormat.Plain) return $"the native engine writes Plain backups only (-Format {r.Format} needs pg_dump)";
            if (r.Globals && r.PreparedGlobals is null) return "-Globals saves the roles with pg_dumpall";
            if (server.Version.Major < NativeDump.MinimumMajor || server.Version.Major > NativeDump.MaximumMajor)
                return $"the native engine reads PostgreSQL {NativeDump.MinimumMajor} to {NativeDump.MaximumMajor}, and the server runs PostgreSQL {server.Version}";
            return null;
        }

        /// <summary>
        /// Which engine makes the backup. Auto: pg_dump when one fits the server, else the native engine when it can
        /// make the backup; a Plain backup with -Jobs above 1 is the native engine's (pg_dump writes a script on one
        /// connection). Each choice is said with -Verbose.
        /// </summary>
        private static DumpEngine ChooseEngine(BackupRequest r, PgServer server, PgToolLocator locator, int neededMajor, string why, IOperationLog log, out PgTool? pgDump)
        {
            pgDump = null;
            var blocker = NativeBlocker(r, server);
            switch (r.Engine)
            {
                case DumpEngine.Native:
                    if (blocker is not null)
                        throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"-Engine Native cannot make this backup: {blocker}.", r.Engine);
                    log.Verbose("Using PgBackup's native engine (-Engine Native).");
                    return DumpEngine.Native;
                case DumpEngine.PgDump:
                    pgDump = locator.Find("pg_dump", neededMajor, why);
                    log.Verbose($"Using {pgDump} (-Engine PgDump).");
                    return DumpEngine.PgDump;
            }
            if (r.Jobs > 1 && r.Format == BackupFormat.Plain)
            {
                if (blocker is not null) throw JobsNeedDirectoryOrNative(r.Jobs);
                log.Verbose($"Using PgBackup's native engine: a Plain backup with -Jobs {r.Jobs} reads its tables on {r.Jobs} connections, which pg_dump does not do for a script.");
                return DumpEngine.Native;
            }
            try
            {
                pgDump = locator.Find("pg_dump", neededMajor, why);
                log.Verbose($"Using {pgDump}: it is at least as new as PostgreSQL {server.Version}.");
                return DumpEngine.PgDump;
            }
            catch (PgBackupException e) when ((e.ErrorId == ErrorIds.PgToolNotFound || e.ErrorId == ErrorIds.PgToolTooOld) && blocker is null)
            {
                log.Verbose($"Using PgBackup's native engine: {e.Message}");
                return DumpEngine.Native;
            }
        }

        internal static List<string> PgDumpArguments(BackupRequest r, PgConnectionInfo connection, PgVersion pgDumpVersion, int level, string? snapshot)
        {
            var a = new List<string> { "--dbname=" + connection.ToLibpqConninfo(), "--no-password", "--verbose" };
            a.Add("--format=" + r.Format switch { BackupFormat.Custom => "custom", BackupFormat.Directory => "directory", _ => "plain" });
            if (r.Format != BackupFormat.Plain)
            {
                if (pgDumpVersion.Major >= 16)
                    a.Add("--compress=" + r.Compression switch
                    {
                        CompressionMethod.Gzip => "gzip:" + level.ToString(CultureInfo.InvariantCulture),
                        CompressionMethod.Zstd => "zstd:" + level.ToString(CultureInfo.InvariantCulture),
                        _ => "none",
                    });
                else
                    a.Add("--compress=" + (r.Compression == CompressionMethod.None ? "0" : level.ToString(CultureInfo.InvariantCulture)));
            }
            if (r.Jobs > 1) a.Add("--jobs=" + r.Jobs.ToString(CultureInfo.InvariantCulture));
            if (r.LockWaitTimeoutSeconds is int wait) a.Add("--lock-wait-timeout=" + wait.ToString(CultureInfo.InvariantCulture) + "s");
            if (snapshot is not null) a.Add("--snapshot=" + snapshot);
            var s = r.Scope;
            foreach (var x in s.Schemas ?? Array.Empty<string>()) a.Add("--schema=" + x);
            foreach (var x in s.ExcludeSchemas ?? Array.Empty<string>()) a.Add("--exclude-schema=" + x);
            foreach (var x in s.Tables ?? Array.Empty<string>()) a.Add("--table=" + x);
            foreach (var x in s.ExcludeTables ?? Array.Empty<string>()) a.Add("--exclude-table=" + x);
            foreach (var x in s.ExcludeTableData ?? Array.Empty<string>()) a.Add("--exclude-table-data=" + x);
            if (s.SchemaOnly) a.Add("--schema-only");
            if (s.DataOnly) a.Add("--data-only");
            if (s.NoOwner) a.Add("--no-owner");
            if (s.NoPrivileges) a.Add("--no-privileges");
            return a;
        }

        private static IReadOnlyDictionary<string, string?> ChildEnvironment(PgConnectionInfo connection)
        {
            var env = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var kv in connection.ChildEnvironment()) env[kv.Key] = kv.Value;
            return env;
        }

        /// <summary>Plain and Custom: pg_dump writes to its stdout, PgBackup streams it into the store.</summary>
        private static void RunStreamed(BackupRequest request, PgServer server, PgTool pgDump, List<string> args, BackupManifest manifest,
            PgToolLocator locator, Redactor redactor, PgConnectionInfo connection, IOperationLog log, string activity, CancellationToken ct)
        {
            var store = request.Store;
            var progress = new ByteProgress(log, activity, "pg_dump");
            // pg_dump starts first: while it connects and reads the catalogue, the store opens the writer (for a
            // bucket: a request that the name is free and one for the marker). Its output waits in the pipe, and if
            // the writer cannot be opened pg_dump is stopped and the store's error is the one reported.
            var dump = ChildProcess.Start(pgDump.Path, args, ChildEnvironment(connection), redactor,
                onStderrLine: line => progress.Note(line));
            IStoreWriter writer;
            try { writer = store.OpenWrite(manifest.Name, ct); }
            catch
            {
                dump.Dispose();
                throw;
            }
            using var _ = writer;
            ChildProcess? tocReader = null;
            Task<string>? tocOutput = null;
            try
            {
                using var __ = dump;
                log.Verbose("Running: " + dump.DisplayCommandLine);
                using var killOnCancel = ct.Register(dump.Kill);

                // The pipeline, from the sink up: hash what is stored, encrypt, and (Plain) compress and count rows or
                // (Custom) let pg_restore read the archive's table of contents on the way.
                using var chain = new StageChain(writer.Stream);
                var hashing = AddStoreStages(chain, request, manifest);
                PlainScriptStream? scanning = null;
                TeeStream? tee = null;
                if (request.Format == BackupFormat.Plain)
                    scanning = AddPlainStages(chain, request, manifest);
                else
                {
                    // pg_restore --list reads the archive's table of contents from the start of the stream.
                    var pgRestore = locator.Find("pg_restore", pgDump.Version.Major, $"to read the table of contents of a pg_dump {pgDump.Version} archive");
                    tocReader = ChildProcess.Start(pgRestore.Path, new[] { "--list" }, null, redactor, redirectStdin: true);
                    var reader = tocReader;
                    tocOutput = Task.Run(() => new StreamReader(reader.StandardOutput, Encoding.UTF8).ReadToEnd());
                    tee = chain.Add(s => new TeeStream(s, reader.StandardInput));
                }
                var top = chain.Top;

                long read = StreamPump.Copy(dump.StandardOutput, top, n => progress.Report(n, hashing.BytesWritten), ct);
                chain.Complete();
                int exit = dump.WaitForExit(ct);
                if (exit != 0)
                    throw PgDumpFailure(dump, exit, server);
                if (scanning is not null) CheckPlainScript(scanning.Reader, DumpEngine.PgDump, manifest, log);
                manifest.Sha256 = hashing.HashHex;
                manifest.SizeBytes = hashing.BytesWritten;
                log.Verbose($"pg_dump wrote {read:N0} bytes; stored {manifest.SizeBytes:N0} bytes.");
                writer.Finish(ct);

                if (tocReader is not null)
                {
                    tee!.CloseSecondary();
                    int tocExit = tocReader.WaitForExit(ct);
                    var toc = tocOutput!.GetAwaiter().GetResult();
                    if (tocExit != 0)
                        throw new PgBackupException(ErrorIds.PgDumpIncomplete, ErrorKind.InvalidData,
                            $"pg_restore could not read the table of contents of the new archive: {tocReader.StandardErrorText}", manifest.Name);
                    manifest.Tables = CountTables(server, toc, log, activity, ct);
                }

                using (var globals = DumpGlobals(request, server, pgDump, locator, redactor, connection, manifest, log, ct))
                {
                    Commit(store, writer, manifest, request.Signing, ct, globals);
                }
            }
            catch (Exception e)
            {
                writer.Abort();
                tocReader?.Kill();
                throw Classify(e, store, manifest.Name, ct);
            }
            finally
            {
                tocReader?.Dispose();
            }
        }

        /// <summary>The stages every stored stream passes last: encryption (if asked), then SHA-256 of what is stored.</summary>
        private static HashingStream AddStoreStages(StageChain chain, BackupRequest request, BackupManifest manifest)
        {
            var hashing = chain.Add(s => new HashingStream(s));
            if (request.Encryption.IsEnabled)
            {
                manifest.Encryption = OpenPgp.Describe(request.Encryption);
                chain.Add(s => OpenPgp.CreateEncryptor(s, request.Encryption, manifest.Name.Substring(0, manifest.Name.Length - BackupNaming.EncryptedSuffix.Length)));
            }
            return hashing;
        }

        /// <summary>A plain script's stages: compression, and the reader that counts its rows and checks every statement.</summary>
        private static PlainScriptStream AddPlainStages(StageChain chain, BackupRequest request, BackupManifest manifest)
        {
            chain.Add(s => Compression.CreateCompressor(request.Compression, manifest.CompressionLevel ?? 0, s));
            // Rows are counted from the dump itself; a statement PgBackup's restore would refuse is said now, not on the day of the restore.
            return chain.Add(s => new PlainScriptStream(s, new PlainScriptReader { StopOnRefusal = false }));
        }

        /// <summary>
        /// The plain script as read on its way to the store: it must end with the dump's footer; a statement the
        /// restore would refuse is a warning for pg_dump's script (a newer pg_dump; psql can still restore it) and an
        /// error for the native engine's, which writes only what the restore runs.
        /// </summary>
        private static void CheckPlainScript(PlainScriptReader script, DumpEngine engine, BackupManifest manifest, IOperationLog log)
        {
            script.Complete();
            var errorId = engine == DumpEngine.Native ? ErrorIds.NativeDumpFailed : ErrorIds.PgDumpIncomplete;
            var tool = engine == DumpEngine.Native ? "The native engine" : "pg_dump";
            if (!script.FooterSeen || script.Truncated is not null)
                throw new PgBackupException(errorId, ErrorKind.InvalidData,
                    $"{tool} finished but its output ended before the 'dump complete' line: the backup is cut short and was discarded.", manifest.Name);
            if (script.Refusal is not null)
            {
                if (engine == DumpEngine.Native)
                    throw new PgBackupException(ErrorIds.NativeDumpFailed, ErrorKind.InvalidData,
                        $"The native engine wrote a statement PgBackup's restore would refuse, so no backup was kept: {script.Refusal.Message}", manifest.Name)
                    { RecommendedAction = "Back up with -Engine PgDump, and report the statement named above." };
                log.Warning($"PgBackup's restore would refuse this backup ({script.RefusedCount} statement(s); psql can still restore it): {script.Refusal.Message}");
            }
            manifest.Tables = script.Tables.ToList();
        }

        /// <summary>
        /// The native engine: PgBackup's own dump over Npgsql is the source of the same stages and store as pg_dump's
        /// output. Everything that can refuse the backup (locks, the catalog, objects it does not reproduce) happens
        /// before the store is asked to write anything.
        /// </summary>
        private static void RunNative(BackupRequest request, BackupManifest manifest, Redactor redactor, PgConnectionInfo connection,
            IOperationLog log, string activity, CancellationToken ct)
        {
            var store = request.Store;
            var options = new NativeDumpOptions { Scope = request.Scope, Jobs = request.Jobs, LockWaitTimeoutSeconds = request.LockWaitTimeoutSeconds, ModuleVersion = request.ModuleVersion };
            using var dump = NativeDump.Prepare(connection, redactor, options, log, activity, ct);
            using var writer = store.OpenWrite(manifest.Name, ct);
            try
            {
                var progress = new ByteProgress(log, activity, "the native engine");
                using var chain = new StageChain(writer.Stream);
                var hashing = AddStoreStages(chain, request, manifest);
                var scanning = AddPlainStages(chain, request, manifest);
                long written;
                using (var queued = new QueuedWriteStream(chain.Top, n => progress.Report(n, hashing.BytesWritten), ct))
                {
                    dump.WriteTo(queued, progress.SetOperation);
                    queued.Complete();
                    written = queued.BytesWritten;
                }
                chain.Complete();
                CheckPlainScript(scanning.Reader, DumpEngine.Native, manifest, log);
                manifest.Sha256 = hashing.HashHex;
                manifest.SizeBytes = hashing.BytesWritten;
                log.Verbose($"The native engine wrote {written:N0} bytes; stored {manifest.SizeBytes:N0} bytes.");
                writer.Finish(ct);
                using (var globals = request.PreparedGlobals is null ? null : WriteGlobals(request, request.PreparedGlobals, manifest, log, ct))
                {
                    Commit(store, writer, manifest, request.Signing, ct, globals);
                }
            }
            catch (Exception e)
            {
                writer.Abort();
                throw Classify(e, store, manifest.Name, ct);
            }
        }

        /// <summary>Directory: pg_dump writes files (in parallel with -Jobs); PgBackup hashes them and publishes the folder.</summary>
        private static void RunDirectory(BackupRequest request, PgServer server, PgTool pgDump, List<string> args, BackupManifest manifest,
            PgToolLocator locator, Redactor redactor, PgConnectionInfo connection, IOperationLog log, string activity, CancellationToken ct)
        {
            var store = request.Store;
            using var writer = store.OpenDirectoryWrite(manifest.Name, ct);
            try
            {
                args.Add("--file=" + writer.LocalPath);
                var progress = new ByteProgress(log, activity, "pg_dump");
                using (var dump = ChildProcess.Start(pgDump.Path, args, ChildEnvironment(connection), redactor,
                           redirectStdout: false, onStderrLine: line => progress.Note(line)))
                {
                    log.Verbose("Running: " + dump.DisplayCommandLine);
                    using var killOnCancel = ct.Register(dump.Kill);
                    using var timer = new Timer(_ => progress.Report(-1, FolderSize(writer.LocalPath)), null, 500, 500);
                    int exit = dump.WaitForExit(ct);
                    if (exit != 0) throw PgDumpFailure(dump, exit, server);
                }

                var files = new List<BackupFileEntry>();
                foreach (var path in Directory.GetFiles(writer.LocalPath, "*", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal))
                {
                    ct.ThrowIfCancellationRequested();
                    using var f = File.OpenRead(path);
                    using var sha = SHA256.Create();
                    files.Add(new BackupFileEntry
                    {
                        Name = path.Substring(writer.LocalPath.Length + 1).Replace('\\', '/'),
                        SizeBytes = f.Length,
                        Sha256 = HashingStream.Hex(sha.ComputeHash(f)),
                    });
                }
                manifest.Files = files;
                manifest.SizeBytes = files.Sum(f => f.SizeBytes);
                manifest.Sha256 = DirectoryHash(files);

                var pgRestore = locator.Find("pg_restore", pgDump.Version.Major, $"to read the table of contents of a pg_dump {pgDump.Version} archive");
                var toc = ChildProcess.RunToEnd(pgRestore.Path, new[] { "--list", writer.LocalPath }, null, TimeSpan.FromMinutes(10), redactor, ct);
                if (toc.ExitCode != 0)
                    throw new PgBackupException(ErrorIds.PgDumpIncomplete, ErrorKind.InvalidData,
                        $"pg_restore could not read the table of contents of the new archive: {toc.StandardError}", manifest.Name);
                manifest.Tables = CountTables(server, toc.StandardOutput, log, activity, ct);
                writer.Finish(ct);
                using (var globals = DumpGlobals(request, server, pgDump, locator, redactor, connection, manifest, log, ct))
                {
                    Commit(store, writer, manifest, request.Signing, ct, globals);
                }
            }
            catch (Exception e)
            {
                writer.Abort();
                throw Classify(e, store, manifest.Name, ct);
            }
        }

        /// <summary>
        /// The SHA-256 of a Directory backup: of its files' sorted "sha256  name" lines (the sha256sum format), so that
        /// one value covers every file.
        /// </summary>
        public static string DirectoryHash(IEnumerable<BackupFileEntry> files)
        {
            var sb = new StringBuilder();
            foreach (var f in files.OrderBy(f => f.Name, StringComparer.Ordinal)) sb.Append(f.Sha256).Append("  ").Append(f.Name).Append('\n');
            using var sha = SHA256.Create();
            return HashingStream.Hex(sha.ComputeHash(Encoding.UTF8.GetBytes(sb.ToString())));
        }

        private static long FolderSize(string path)
        {
            try { return Directory.Exists(path) ? new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0; }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { return 0; }
        }

        private static List<TableRowCount> CountTables(PgServer server, string toc, IOperationLog log, string activity, CancellationToken ct)
        {
            var oids = TableDataLine.Matches(toc).Cast<Match>().Select(m => uint.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().ToList();
            log.Progress(new ProgressInfo(activity, $"Counting the rows of {oids.Count} tables in the dump's snapshot"));
            return server.CountRowsByOid(oids, ct);
        }

        /// <summary>
        /// Globals (if any) first, then the manifest, then the data under its final name: a backup never looks complete
        /// before it is.
        /// </summary>
        private static void Commit(IBackupStore store, IPendingWrite data, BackupManifest manifest, SigningKey? signing, CancellationToken ct, IStoreWriter? globals)
        {
            manifest.EndTime = DateTime.UtcNow;
            globals?.Commit(ct);
            try
            {
                WriteManifest(store, manifest, signing, ct);
                try { data.Commit(ct); }
                catch { DeleteManifest(store, manifest.Name); throw; }
            }
            catch
            {
                if (manifest.Globals is not null) TryDelete(store, manifest.Globals.Name);
                throw;
            }
        }

        /// <summary>
        /// With -Globals: the roles script (made now with pg_dumpall, or the one prepared for the whole run) in
        /// <c>&lt;stem&gt;.globals.sql</c> (encrypted like the backup), written and finished but not yet committed.
        /// </summary>
        private static IStoreWriter? DumpGlobals(BackupRequest request, PgServer server, PgTool pgDump, PgToolLocator locator, Redactor redactor,
            PgConnectionInfo connection, BackupManifest manifest, IOperationLog log, CancellationToken ct)
        {
            if (!request.Globals) return null;
            var globals = request.PreparedGlobals ?? CaptureGlobals(locator, pgDump.Version.Major, $"the server runs PostgreSQL {server.Version}",
                connection, redactor, request.NoRolePasswords, server.Database, log, ct);
            return WriteGlobals(request, globals, manifest, log, ct);
        }

        /// <summary>
        /// Runs pg_dumpall --globals-only (roles, memberships, role settings) and keeps its script in memory (a roles
        /// script is small; it is parsed for the manifest's list of roles either way).
        /// </summary>
        public static GlobalsDump CaptureGlobals(PgToolLocator locator, int neededMajor, string why, PgConnectionInfo connection, Redactor redactor,
            bool noRolePasswords, string target, IOperationLog log, CancellationToken ct)
        {
            var tool = locator.Find("pg_dumpall", neededMajor, why);
            var args = new List<string> { "--globals-only", "--no-password", "--dbname=" + connection.ToLibpqConninfo() };
            if (noRolePasswords) args.Add("--no-role-passwords");
            using var dump = ChildProcess.Start(tool.Path, args, ChildEnvironment(connection), redactor);
            log.Verbose("Running: " + dump.DisplayCommandLine);
            using var kill = ct.Register(dump.Kill);
            var text = new MemoryStream();
            StreamPump.Copy(dump.StandardOutput, text, null, ct);
            int exit = dump.WaitForExit(ct);
            if (exit != 0)
                throw new PgBackupException(ErrorIds.GlobalsDumpFailed, ErrorKind.InvalidOperation,
                    $"pg_dumpall --globals-only failed with exit code {exit}: {BackupVerifier.LastLines(dump.StandardErrorText)}" +
                    (noRolePasswords ? "" : " On managed services (Neon, RDS...) add -NoRolePasswords."), target);
            var script = text.ToArray();
            return new GlobalsDump
            {
                Script = script,
                WithoutPasswords = noRolePasswords,
                Roles = GlobalsScript.Parse(Encoding.UTF8.GetString(script)).Roles.ToArray(),
            };
        }

        /// <summary>Writes a roles script beside a backup through the store stages (encryption, SHA-256); finished, not committed.</summary>
        private static IStoreWriter WriteGlobals(BackupRequest request, GlobalsDump globals, BackupManifest manifest, IOperationLog log, CancellationToken ct)
        {
            var stem = BackupNaming.Parse(manifest.Name)?.Stem ?? manifest.Name;
            var name = BackupNaming.GlobalsName(stem, request.Encryption.IsEnabled);
            var writer = request.Store.OpenWrite(name, ct);
            try
            {
                using (var chain = new StageChain(writer.Stream))
                {
                    var hashing = chain.Add(s => new HashingStream(s));
                    if (request.Encryption.IsEnabled)
                        chain.Add(s => OpenPgp.CreateEncryptor(s, request.Encryption, BackupNaming.GlobalsName(stem, false)));
                    chain.Top.Write(globals.Script, 0, globals.Script.Length);
                    chain.Complete();
                    manifest.Globals = new GlobalsInfo
                    {
                        Name = name,
                        SizeBytes = hashing.BytesWritten,
                        Sha256 = hashing.HashHex,
                        WithoutPasswords = globals.WithoutPasswords,
                        Roles = globals.Roles,
                    };
                }
                writer.Finish(ct);
                log.Verbose($"Saved the cluster's roles ({manifest.Globals.Roles!.Length}) in {request.Store.GetPath(name)}.");
                return writer;
            }
            catch
            {
                writer.Abort();
                writer.Dispose();
                throw;
            }
        }

        /// <summary>Writes a new manifest, signed with <paramref name="signing"/> when given.</summary>
        public static void WriteManifest(IBackupStore store, BackupManifest manifest, SigningKey? signing, CancellationToken ct)
        {
            var json = manifest.ToJsonBytes();
            WriteManifest(store, manifest.Name, json, signing?.Sign(json), ct);
        }

        /// <summary>
        /// Writes a manifest's bytes as they are, and its signature (when there is one) first, so that a signed backup's
        /// manifest is never seen without its signature.
        /// </summary>
        public static void WriteManifest(IBackupStore store, string name, byte[] json, byte[]? signature, CancellationToken ct)
        {
            if (signature is not null) Write(store, BackupNaming.SignatureName(name), signature, ct);
            try { Write(store, BackupNaming.ManifestName(name), json, ct); }
            catch { if (signature is not null) TryDelete(store, BackupNaming.SignatureName(name)); throw; }
        }

        private static void Write(IBackupStore store, string name, byte[] bytes, CancellationToken ct)
        {
            using var w = store.OpenWrite(name, ct);
            w.Stream.Write(bytes, 0, bytes.Length);
            w.Finish(ct);
            w.Commit(ct);
        }

        /// <summary>Removes a manifest and its signature after the data could not be committed (errors are left to the sweep).</summary>
        internal static void DeleteManifest(IBackupStore store, string name)
        {
            TryDelete(store, BackupNaming.ManifestName(name));
            TryDelete(store, BackupNaming.SignatureName(name));
        }

        private static void TryDelete(IBackupStore store, string name)
        {
            try { store.Delete(name, CancellationToken.None); } catch (PgBackupException) { }
        }

        private static PgBackupException PgDumpFailure(ChildProcess dump, int exit, PgServer server)
        {
            var lines = dump.StandardErrorLines.Where(l => !l.StartsWith("pg_dump: dumping", StringComparison.Ordinal) && !l.StartsWith("pg_dump: reading", StringComparison.Ordinal)
                                                           && !l.StartsWith("pg_dump: saving", StringComparison.Ordinal) && !l.StartsWith("pg_dump: last built-in", StringComparison.Ordinal)
                                                           && !l.StartsWith("pg_dump: identifying", StringComparison.Ordinal) && !l.StartsWith("pg_dump: finding", StringComparison.Ordinal)
                                                           && !l.StartsWith("pg_dump: flagging", StringComparison.Ordinal) && !l.StartsWith("pg_dump: executing", StringComparison.Ordinal)
                                                           && !l.StartsWith("pg_dump: creating", StringComparison.Ordinal) && !l.StartsWith("pg_dump: processing", StringComparison.Ordinal)
                                                           && !l.StartsWith("pg_dump: finished", StringComparison.Ordinal))
                .ToList();
            var errors = lines.Where(l => l.IndexOf("error", StringComparison.OrdinalIgnoreCase) >= 0 || l.IndexOf("detail", StringComparison.OrdinalIgnoreCase) >= 0 || l.IndexOf("FATAL", StringComparison.Ordinal) >= 0).ToList();
            var shown = string.Join(Environment.NewLine, (errors.Count > 0 ? errors : lines).Skip(Math.Max(0, (errors.Count > 0 ? errors : lines).Count - 12)));
            string how = dump.WasKilled ? "was stopped" : exit < 0 || exit > 128 ? $"was killed (exit code {exit})" : $"failed with exit code {exit}";
            // pg_dump --lock-wait-timeout sets a statement timeout for its LOCK TABLE queries ("canceling statement due to
            // statement timeout ... Query was: LOCK TABLE ..."); parallel workers say "could not obtain lock on relation";
            // a server's lock_timeout says "lock timeout".
            bool Said(string text) => lines.Any(l => l.IndexOf(text, StringComparison.OrdinalIgnoreCase) >= 0);
            bool lockWait = Said("could not obtain lock") || Said("due to lock timeout") || (Said("statement timeout") && Said("LOCK TABLE"));
            var rowSecurity = lockWait || dump.WasKilled ? null : RowSecurityCause(lines, server);
            return new PgBackupException(ErrorIds.PgDumpFailed, lockWait ? ErrorKind.OperationTimeout : rowSecurity is not null ? ErrorKind.PermissionDenied : ErrorKind.InvalidOperation,
                $"pg_dump {how} while backing up '{server.Database}' on {server.Info.Server}" +
                (lockWait ? ": another session holds a lock on a table to dump for longer than -LockWaitTimeoutSeconds" : "") + "; no backup was kept." +
                (rowSecurity is { } rs ? " " + PgServer.RowSecurityRefusal(rs.Role, rs.AsWritten) : "") +
                (shown.Length > 0 ? Environment.NewLine + shown : ""), server.Database)
            {
                RecommendedAction = lockWait ? "Find the session holding the lock (pg_locks, pg_stat_activity) or run the backup later; a larger -LockWaitTimeoutSeconds waits longer."
                    : rowSecurity is { } r ? PgServer.RowSecurityAction(r.Role) : null,
            };
        }

        /// <summary>
        /// The table pg_dump failed to read because row-level security applies to this role, if that is why it failed:
        /// a table the server says row security is active on (for this role), named in pg_dump's failed query (COPY, or
        /// the SELECT of --inserts). The server's error text is not read: it comes in the server's language.
        /// </summary>
        private static (string Schema, string Name, string AsWritten, string Role)? RowSecurityCause(IReadOnlyList<string> lines, PgServer server)
        {
            if (!lines.Any(l => l.IndexOf("COPY ", StringComparison.Ordinal) >= 0 || l.IndexOf(" FROM ONLY ", StringComparison.Ordinal) >= 0)) return null;
            try
            {
                foreach (var t in server.RowSecurityActiveTables(CancellationToken.None))
                    if (lines.Any(l => l.IndexOf("COPY " + t.AsWritten + " ", StringComparison.Ordinal) >= 0 || l.IndexOf(" FROM ONLY " + t.AsWritten, StringComparison.Ordinal) >= 0))
                        return t;
                return null;
            }
            catch (PgBackupException) { return null; } // the server is gone too: pg_dump's own words stand
        }

        private static Exception Classify(Exception e, IBackupStore store, string name, CancellationToken ct)
        {
            if (ct.IsCancellationRequested) return new OperationCanceledException("The backup was stopped; its partial files were removed.", e, ct);
            if (e is PgBackupException) return e;
            if (e is IOException || e is UnauthorizedAccessException) return LocalStore.WriteFailure(store.GetPath(name), e);
            return e;
        }
    }

    /// <summary>Writes to a primary stage and, for as long as it reads, to a secondary reader (pg_restore --list).</summary>
    public sealed class TeeStream : WriteThroughStream
    {
        private Stream? _secondary;

        public TeeStream(Stream primary, Stream secondary) : base(primary, leaveOpen: true) { _secondary = secondary; }

        protected override void Observe(byte[] buffer, int offset, int count)
        {
            if (_secondary is null) return;
            try { _secondary.Write(buffer, offset, count); }
            catch (IOException) { CloseSecondary(); }
        }

        /// <summary>Stops feeding the secondary reader: it has what it needs, or the stream ended.</summary>
        public void CloseSecondary()
        {
            var s = _secondary;
            _secondary = null;
            try { s?.Dispose(); } catch (IOException) { }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) CloseSecondary();
            base.Dispose(disposing);
        }
    }

    /// <summary>Throttled progress of a byte stream, with the table pg_dump is working on.</summary>
    internal sealed class ByteProgress
    {
        private readonly IOperationLog _log;
        private readonly string _activity;
        private readonly string _tool;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastReport = -1000;
        private string? _current;
        private long _lastIn;

        public ByteProgress(IOperationLog log, string activity, string tool)
        {
            _log = log;
            _activity = activity;
            _tool = tool;
        }

        /// <summary>What is being done now, shown with the next report.</summary>
        public void SetOperation(string? operation) => _current = string.IsNullOrEmpty(operation) ? null : operation;

        public void Note(string stderrLine)
        {
            var m = Regex.Match(stderrLine, @"dumping contents of table ""?(.+?)""?$");
            if (m.Success) _current = "Table " + m.Groups[1].Value;
        }

        public void Report(long bytesIn, long bytesOut)
        {
            long now = _clock.ElapsedMilliseconds;
            if (now - Interlocked.Read(ref _lastReport) < 500) return;
            Interlocked.Exchange(ref _lastReport, now);
            if (bytesIn >= 0) _lastIn = bytesIn;
            double seconds = Math.Max(0.001, now / 1000.0);
            string status = bytesIn >= 0
                ? $"{Format(_lastIn)} read from {_tool}, {Format(bytesOut)} written ({Format((long)(_lastIn / seconds))}/s)"
                : $"{Format(bytesOut)} written ({Format((long)(bytesOut / seconds))}/s)";
            _log.Progress(new ProgressInfo(_activity, status) { CurrentOperation = _current });
        }

        public static string Format(long bytes)
        {
            string[] units = { "B", "KB", "MB", "GB", "TB" };
            double v = bytes;
            int u = 0;
            while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
            return v.ToString(u == 0 ? "0" : "0.0", CultureInfo.InvariantCulture) + " " + units[u];
        }
    }
}
