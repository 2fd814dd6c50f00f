using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>How <see cref="ScriptExecutor"/> runs a plain script.</summary>
    public sealed class ScriptExecutionOptions
    {
        /// <summary>Connections for table data and post-data (indexes, keys): 1 runs everything in order on one.</summary>
        public int Jobs { get; init; } = 1;
        public bool ContinueOnError { get; init; }
        /// <summary>Leave out <c>ALTER ... OWNER TO</c> and <c>SET SESSION AUTHORIZATION</c>.</summary>
        public bool NoOwner { get; init; }
        /// <summary>Leave out GRANT, REVOKE and ALTER DEFAULT PRIVILEGES.</summary>
        public bool NoPrivileges { get; init; }
        /// <summary>Restore every definition but the data of this one table only (and no foreign keys).</summary>
        public (string Schema, string Name)? DataOfTableOnly { get; init; }
        /// <summary>Run everything in one transaction (-Table/-Schema on a live database): all of it, or nothing.</summary>
        public bool SingleTransaction { get; init; }
        /// <summary>
        /// The target is a database PgBackup created for this restore: commits need not wait for the disk (the swap
        /// that puts it in place does, and that makes everything before it durable).
        /// </summary>
        public bool NewDatabase { get; init; }
    }

    /// <summary>
    /// The sink of a plain restore: runs the statements <see cref="PlainScriptReader"/> accepted on the target
    /// database over Npgsql (psql is never started: nothing but SQL and COPY data reaches the server, and no
    /// meta-command of the script is ever interpreted). With one job everything runs in order on one connection. With
    /// N jobs, the schema runs in order on the main connection, then each table's COPY data loads on one of N
    /// connections (each re-reads the script to its table's data, so memory stays flat) and indexes and keys build side
    /// by side, statements on the same table always in the script's order; anything whose objects it cannot name runs
    /// alone, after everything before it. The script's session settings are applied on every connection.
    /// </summary>
    internal sealed class ScriptExecutor : IPlainScriptConsumer, IDisposable
    {
        private readonly ScriptExecutionOptions _options;
        private readonly PgConnectionInfo _target;
        private readonly Redactor _redactor;
        private readonly IOperationLog _log;
        private readonly CancellationToken _ct;
        private readonly int _serverMajor;
        private readonly string _database;
        private readonly ScriptSession _main;
        private readonly ScriptSettings _settings = new ScriptSettings();
        private readonly WorkerPool? _pool;
        private readonly CancellationTokenRegistration _cancel;
        private PlainScriptReader? _reader;
        private bool _discardCopy;
        private bool _inTransaction;
        private RegionItem? _region;
        private IncrementalHash? _regionHash;
        private string _phase = "";
        private bool _skippedTimeout;
        private readonly HashSet<string> _loaded = new HashSet<string>(StringComparer.Ordinal);
        private bool _routedLoad;

        public ScriptExecutor(ScriptExecutionOptions options, PgConnectionInfo target, Redactor redactor, IOperationLog log,
            Func<Stream>? reopenScript, CancellationToken ct)
        {
            _options = options;
            _target = target;
            _redactor = redactor;
            _log = log;
            _ct = ct;
            _database = target.Database ?? "";
            _main = ScriptSession.Open(target, redactor, options.ContinueOnError, SessionSetup(), ct);
            _serverMajor = _main.ServerMajor;
            try
            {
                if (options.SingleTransaction) _main.ExecuteNow("BEGIN", new StatementOrigin(0, "PgBackup's transaction"));
                if (options.Jobs > 1 && !options.SingleTransaction && reopenScript is not null)
                    _pool = new WorkerPool(this, options.Jobs, reopenScript);
            }
            catch
            {
                _main.Dispose();
                throw;
            }
            _cancel = ct.Register(() =>
            {
                _main.CancelRunning();
                _pool?.CancelRunning();
            });
        }

        /// <summary>Errors passed over with ContinueOnError.</summary>
        public List<string> Errors => _main.Errors.Concat(_pool?.Errors ?? Enumerable.Empty<string>()).ToList();
        /// <summary>What the restore does now, for progress.</summary>
        public string Status => _phase.Length == 0 ? "" : $"{_phase}; {_tablesLoaded} tables loaded, {_indexesBuilt} indexes and keys built";
        private int _tablesLoaded;
        private int _indexesBuilt;

        /// <summary>The reader whose lexer feeds this executor (for the position of COPY data in the script).</summary>
        public void Attach(PlainScriptReader reader) => _reader = reader;

        private IEnumerable<string> SessionSetup()
        {
            if (_options.NewDatabase) yield return "SET synchronous_commit = off";
        }

        public void Statement(SqlStatement statement, StatementInfo info)
        {
            _ct.ThrowIfCancellationRequested();
            _pool?.ThrowIfFailed();
            if (Filtered(info))
            {
                if (info.Action == StatementAction.Copy) _discardCopy = true;
                return;
            }
            var origin = new StatementOrigin(statement.Line, statement.Describe(), info.OwnerChange, info.Privilege, statement.IsWords(0, "create", "extension"));
            var encoding = _reader?.Policy.Encoding ?? Encoding.UTF8;
            switch (info.Action)
            {
                case StatementAction.Setting:
                    if (!info.SendToServer) return;
                    if (info.Setting == "transaction_timeout" && _serverMajor > 0 && _serverMajor < 17)
                    {
                        // pg_dump 17 writes it always; older servers do not know it, and psql only warns.
                        if (!_skippedTimeout) _log.Verbose($"Skipped SET transaction_timeout (line {statement.Line}): PostgreSQL {_serverMajor} has no such setting.");
                        _skippedTimeout = true;
                        return;
                    }
                    var text = statement.Text(encoding);
                    _settings.Set(info.Setting!, text);
                    _main.Run(text, origin);
                    return;

                case StatementAction.Begin:
                case StatementAction.Commit:
                    if (_options.SingleTransaction)
                        throw new PgBackupException(ErrorIds.UnsafeStatement, ErrorKind.InvalidData,
                            $"Line {statement.Line}: {statement.Describe()} inside a restore that runs as one transaction.");
                    _pool?.Drain();
                    _inTransaction = info.Action == StatementAction.Begin;
                    _main.Run(statement.Text(encoding), origin);
                    return;

                case StatementAction.Copy:
                    Phase("loading table data");
                    // Frozen loading only into tables this script created in PgBackup's own new database, and only once;
                    // and no more after data went through a table the script did not create as one that holds its rows (a
                    // partitioned table, --load-via-partition-root): the rows it routed into a partition would be
                    // emptied by that partition's TRUNCATE before its own COPY FREEZE.
                    var freeze = _options.NewDatabase && info.CreatedHere && !_inTransaction && !_routedLoad && _loaded.Add(info.Table!.QualifiedName) ? info.CopyTarget : null;
                    if (!info.CreatedHere) _routedLoad = true;
                    if (_pool is not null && !_inTransaction)
                    {
                        _main.Flush();
                        _region = new RegionItem(_reader!.Lexer.StatementOffset, info.CopyCommand!, info.Table!, _reader.Policy.EncodingName, origin, info.Resources!, _settings.Snapshot, freeze);
                        _regionHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                        RegionDigest.AddStatement(_regionHash, info.CopyCommand!);
                        _pool.Enqueue(_region);
                        return;
                    }
                    _main.BeginCopy(info.CopyCommand!, encoding, origin, freeze);
                    return;

                default:
                    if (info.Action == StatementAction.Insert) Phase("loading table data");
                    else if (info.BuildsIndex || info.ForeignKey) Phase("building indexes and keys");
                    else if (_phase.Length == 0) Phase("creating the schema");
                    var sql = Rewrite(statement, info, encoding);
                    if (_pool is not null && !_inTransaction && info.Resources is not null)
                    {
                        _main.Flush();
                        _pool.Enqueue(sql, origin, info, _settings.Snapshot);
                        return;
                    }
                    _pool?.Drain();
                    _main.Run(sql, origin);
                    if (info.BuildsIndex) _indexesBuilt++;
                    return;
            }
        }

        public void CopyData(byte[] buffer, int offset, int count)
        {
            if (_discardCopy) return;
            if (_regionHash is not null)
            {
                _regionHash.AppendData(buffer, offset, count);
                return;
            }
            _main.CopyData(buffer, offset, count);
        }

        public void CopyEnd(long rows)
        {
            if (_discardCopy) { _discardCopy = false; return; }
            if (_regionHash is not null)
            {
                _region!.Digest.TrySetResult(_regionHash.GetHashAndReset());
                _regionHash.Dispose();
                _regionHash = null;
                _region = null;
                return;
            }
            _main.EndCopy();
            Interlocked.Increment(ref _tablesLoaded);
        }

        /// <summary>Exact row counts on the main connection (inside the single transaction, before it commits), compared.</summary>
        public (List<TableRowCount> Actual, List<string> Differences) CheckRows(IReadOnlyCollection<TableRowCount> tables, CancellationToken ct)
        {
            _pool?.Drain();
            return _main.CheckRows(tables, ct, _options.SingleTransaction || _inTransaction);
        }

        /// <summary>A statement of PgBackup's own (not the script's), run on the main connection, in its transaction.</summary>
        public void RunOwn(string sql, string what)
        {
            _pool?.Drain();
            _main.Run(sql, new StatementOrigin(0, what));
        }

        /// <summary>Everything read: waits for the other connections, commits a single transaction.</summary>
        public void Complete()
        {
            _main.Flush();
            _pool?.Drain();
            if (_options.SingleTransaction) _main.ExecuteNow("COMMIT", new StatementOrigin(0, "PgBackup's transaction"));
            _phase = "done";
        }

        private void Phase(string phase)
        {
            if (_phase == phase || (_phase == "building indexes and keys" && phase == "loading table data")) return;
            _phase = phase;
            _log.Verbose($"Restore: {phase}{(_pool is not null ? $" ({_options.Jobs} connections)" : "")}.");
        }

        private bool Filtered(StatementInfo info)
        {
            if (_options.NoOwner && info.OwnerChange) return true;
            if (_options.NoPrivileges && info.Privilege) return true;
            if (_options.DataOfTableOnly is { } only)
            {
                if (info.ForeignKey) return true;
                // The table's own data, its partitions' (a partitioned table holds none itself), and data loaded
                // through a partitioned table above it (--load-via-partition-root), which routes rows into it.
                if (info.Data && !(info.Table is { } t && (t.Schema == only.Schema && t.Name == only.Name ||
                                                           _reader is not null && _reader.Policy.InPartitionLine(t.QualifiedName, PgIdentifier.Qualify(only.Schema, only.Name)))))
                    return true;
            }
            return false;
        }

        /// <summary>-C: a statement about the dumped database is about the database restored into.</summary>
        private string Rewrite(SqlStatement statement, StatementInfo info, Encoding encoding)
        {
            if (info.DatabaseNameToken < 0) return statement.Text(encoding);
            var t = statement[info.DatabaseNameToken];
            return encoding.GetString(statement.Buffer, 0, t.Start) + PgIdentifier.Quote(_database) +
                   encoding.GetString(statement.Buffer, t.Start + t.Length, statement.Length - t.Start - t.Length);
        }

        public void Dispose()
        {
            _cancel.Dispose();
            _pool?.Dispose();
            _regionHash?.Dispose();
            _main.Dispose();
        }

        internal void CountTable() => Interlocked.Increment(ref _tablesLoaded);
        internal void CountIndex() => Interlocked.Increment(ref _indexesBuilt);
        internal ScriptSession OpenWorkerSession() => ScriptSession.Open(_target, _redactor, _options.ContinueOnError, SessionSetup(), _ct);
        internal CancellationToken Token => _ct;

        // ------------------------------------------------------------------------------------------------------------

        /// <summary>The script's session settings so far, as the statements that set them (the last for each setting).</summary>
        private sealed class ScriptSettings
        {
            private readonly List<(string Name, string Text)> _settings = new List<(string, string)>();
            public SettingsSnapshot Snapshot { get; private set; } = new SettingsSnapshot(0, Array.Empty<string>());

            public void Set(string name, string text)
            {
                int at = _settings.FindIndex(s => s.Name == name);
                if (at >= 0) _settings.RemoveAt(at);
                _settings.Add((name, text));
                Snapshot = new SettingsSnapshot(Snapshot.Version + 1, _settings.Select(s => s.Text).ToArray());
            }
        }

        internal sealed class SettingsSnapshot
        {
            public SettingsSnapshot(int version, string[] statements)
            {
                Version = version;
                Statements = statements;
            }

            public int Version { get; }
            public string[] Statements { get; }
        }

        /// <summary>Work for another connection.</summary>
        private abstract class WorkItem
        {
            protected WorkItem(string[] resources, SettingsSnapshot settings)
            {
                Resources = resources;
                Settings = settings;
            }

            public string[] Resources { get; }
            public SettingsSnapshot Settings { get; }
            public int Chars { get; protected set; }
        }

        private sealed class StatementItem : WorkItem
        {
            public StatementItem(string[] resources, SettingsSnapshot settings) : base(resources, settings) { }
            public List<(string Text, StatementOrigin Origin, bool Index)> Statements { get; } = new List<(string, StatementOrigin, bool)>();
            public void Add(string text, StatementOrigin origin, bool index)
            {
                Statements.Add((text, origin, index));
                Chars += text.Length;
            }
        }

        /// <summary>A table's COPY statement and data, found again in the script at <see cref="Offset"/> by the connection that loads it.</summary>
        private sealed class RegionItem : WorkItem
        {
            public RegionItem(long offset, string command, TableRowCount table, string encoding, StatementOrigin origin, string[] resources, SettingsSnapshot settings, string? freeze)
                : base(resources, settings)
            {
                Freeze = freeze;
                Offset = offset;
                Command = command;
                Table = table;
                EncodingName = encoding;
                Origin = origin;
            }

            public long Offset { get; }
            /// <summary>The table to load frozen (see <see cref="ScriptSession.BeginCopy"/>), or null.</summary>
            public string? Freeze { get; }
            public string Command { get; }
            public TableRowCount Table { get; }
            public string EncodingName { get; }
            public StatementOrigin Origin { get; }
            /// <summary>SHA-256 of the COPY command and its data as the main reading saw them.</summary>
            public TaskCompletionSource<byte[]> Digest { get; } = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary>What a region is compared by: the COPY command PgBackup sends and the data bytes.</summary>
        private static class RegionDigest
        {
            public static void AddStatement(IncrementalHash hash, string command)
            {
                var bytes = Encoding.UTF8.GetBytes(command + "\n");
                hash.AppendData(bytes, 0, bytes.Length);
            }
        }

        /// <summary>
        /// N connections that take work in the script's order: an item starts once no earlier unfinished item shares
        /// one of its objects (tables, sequences, large objects), so what concerns one table stays in order.
        /// </summary>
        private sealed class WorkerPool : IDisposable
        {
            private const int MaxPendingItems = 2000;
            private const int MaxPendingChars = 64 << 20;

            private readonly ScriptExecutor _owner;
            private readonly Func<Stream> _reopen;
            private readonly List<WorkItem> _pending = new List<WorkItem>();
            private readonly List<WorkItem> _running = new List<WorkItem>();
            private readonly List<Worker> _workers = new List<Worker>();
            private readonly object _lock = new object();
            private int _pendingChars;
            private Exception? _failure;
            private bool _closed;

            public WorkerPool(ScriptExecutor owner, int jobs, Func<Stream> reopen)
            {
                _owner = owner;
                _reopen = reopen;
                try
                {
                    for (int i = 0; i < jobs; i++) _workers.Add(new Worker(this, i + 1, owner.OpenWorkerSession()));
                }
                catch
                {
                    foreach (var w in _workers) w.Session.Dispose();
                    throw;
                }
                foreach (var w in _workers) w.Start();
            }

            public List<string> Errors => _workers.SelectMany(w => w.Session.Errors).ToList();

            public void Enqueue(string text, StatementOrigin origin, StatementInfo info, SettingsSnapshot settings)
            {
                lock (_lock)
                {
                    // Join the last waiting item when it is about the same objects (batches of INSERTs, of one table's indexes).
                    if (_pending.Count > 0 && _pending[_pending.Count - 1] is StatementItem last && last.Settings == settings &&
                        last.Statements.Count < 64 && last.Resources.SequenceEqual(info.Resources!))
                    {
                        last.Add(text, origin, info.BuildsIndex);
                        _pendingChars += text.Length;
                        Monitor.PulseAll(_lock);
                        return;
                    }
                }
                var item = new StatementItem(info.Resources!, settings);
                item.Add(text, origin, info.BuildsIndex);
                Enqueue(item);
            }

            public void Enqueue(WorkItem item)
            {
                lock (_lock)
                {
                    while (_failure is null && (_pending.Count >= MaxPendingItems || _pendingChars >= MaxPendingChars))
                        Wait();
                    ThrowIfFailedLocked();
                    _pending.Add(item);
                    _pendingChars += item.Chars;
                    Monitor.PulseAll(_lock);
                }
            }

            /// <summary>Waits until every item has run; throws the first failure.</summary>
            public void Drain()
            {
                lock (_lock)
                {
                    while (_failure is null && (_pending.Count > 0 || _running.Count > 0)) Wait();
                    ThrowIfFailedLocked();
                }
            }

            public void ThrowIfFailed()
            {
                lock (_lock) ThrowIfFailedLocked();
            }

            private void ThrowIfFailedLocked()
            {
                if (_failure is null) return;
                if (_failure is PgBackupException pe) throw new PgBackupException(pe.ErrorId, pe.Kind, pe.Message, pe.Target, pe);
                if (_failure is OperationCanceledException) throw new OperationCanceledException(_owner.Token);
                throw new PgBackupException(ErrorIds.RestoreFailed, ErrorKind.InvalidOperation, _failure.Message, null, _failure);
            }

            private void Wait()
            {
                // Wake now and then to notice Ctrl+C while waiting for other connections.
                Monitor.Wait(_lock, 200);
                if (_owner.Token.IsCancellationRequested && _failure is null) _failure = new OperationCanceledException(_owner.Token);
            }

            /// <summary>The next item that may start: the first waiting one sharing no object with any earlier unfinished one.</summary>
            private WorkItem? TakeLocked()
            {
                for (int k = 0; k < _pending.Count; k++)
                {
                    var candidate = _pending[k];
                    bool blocked = _running.Any(r => Conflicts(r, candidate));
                    for (int j = 0; j < k && !blocked; j++) blocked = Conflicts(_pending[j], candidate);
                    if (blocked) continue;
                    _pending.RemoveAt(k);
                    _pendingChars -= candidate.Chars;
                    _running.Add(candidate);
                    return candidate;
                }
                return null;
            }

            private static bool Conflicts(WorkItem a, WorkItem b)
            {
                foreach (var x in a.Resources)
                    foreach (var y in b.Resources)
                        if (string.Equals(x, y, StringComparison.Ordinal)) return true;
                return false;
            }

            public void CancelRunning()
            {
                lock (_lock)
                {
                    _failure ??= new OperationCanceledException(_owner.Token);
                    Monitor.PulseAll(_lock);
                }
                foreach (var w in _workers) w.Session.CancelRunning();
            }

            public void Dispose()
            {
                lock (_lock)
                {
                    _closed = true;
                    _failure ??= new OperationCanceledException("The restore ended.");
                    Monitor.PulseAll(_lock);
                }
                foreach (var w in _workers) w.Session.CancelRunning();
                foreach (var w in _workers) w.Join();
                foreach (var w in _workers) w.Dispose();
            }

            private sealed class Worker : IDisposable
            {
                private readonly WorkerPool _pool;
                private readonly Thread _thread;
                private ScriptRegionSource? _source;

                public Worker(WorkerPool pool, int number, ScriptSession session)
                {
                    _pool = pool;
                    Session = session;
                    _thread = new Thread(Loop) { IsBackground = true, Name = "PgBackup restore " + number };
                }

                public ScriptSession Session { get; }
                public void Start() => _thread.Start();
                public void Join() => _thread.Join();

                private void Loop()
                {
                    while (true)
                    {
                        WorkItem? item;
                        lock (_pool._lock)
                        {
                            while ((item = _pool._failure is null ? _pool.TakeLocked() : null) is null)
                            {
                                if (_pool._failure is not null || _pool._closed) return;
                                Monitor.Wait(_pool._lock, 200);
                            }
                        }
                        try
                        {
                            Run(item);
                        }
                        catch (Exception e)
                        {
                            lock (_pool._lock)
                            {
                                _pool._failure ??= e;
                                Monitor.PulseAll(_pool._lock);
                            }
                        }
                        finally
                        {
                            lock (_pool._lock)
                            {
                                _pool._running.Remove(item);
                                Monitor.PulseAll(_pool._lock);
                            }
                        }
                    }
                }

                private void Run(WorkItem item)
                {
                    var ct = _pool._owner.Token;
                    ct.ThrowIfCancellationRequested();
                    if (Session.SettingsVersion != item.Settings.Version)
                    {
                        foreach (var s in item.Settings.Statements) Session.Run(s, new StatementOrigin(0, "the script's session settings"));
                        Session.Flush();
                        Session.SettingsVersion = item.Settings.Version;
                    }
                    if (item is StatementItem statements)
                    {
                        foreach (var (text, origin, _) in statements.Statements) Session.Run(text, origin);
                        Session.Flush();
                        foreach (var s in statements.Statements) if (s.Index) _pool._owner.CountIndex();
                        return;
                    }
                    var region = (RegionItem)item;
                    _source ??= new ScriptRegionSource(_pool._reopen);
                    _source.Load(region, Session, ct);
                    _pool._owner.CountTable();
                }

                public void Dispose()
                {
                    _source?.Dispose();
                    Session.Dispose();
                }
            }
        }

        /// <summary>
        /// A worker's own reading of the script: moves forward to a table's COPY statement, checks that it is the same
        /// statement the main reading found there, streams its data to the connection, and compares the whole with the
        /// main reading's SHA-256 before the COPY is committed (a backup that changed between the two readings loads
        /// nothing).
        /// </summary>
        private sealed class ScriptRegionSource : IDisposable
        {
            private readonly Func<Stream> _open;
            private Stream? _stream;
            private readonly byte[] _buffer = new byte[1 << 20];
            private int _start, _end;
            private long _offset; // script offset of _buffer[_start]

            public ScriptRegionSource(Func<Stream> open) { _open = open; }

            public void Load(RegionItem region, ScriptSession session, CancellationToken ct)
            {
                if (_stream is null || region.Offset < _offset)
                {
                    _stream?.Dispose();
                    _stream = _open();
                    _start = _end = 0;
                    _offset = 0;
                }
                // Forward to the region.
                while (_offset + (_end - _start) <= region.Offset)
                {
                    _offset += _end - _start;
                    _start = _end = 0;
                    if (!Fill(ct)) throw Changed(region, "the script ends before it");
                }
                int skip = (int)(region.Offset - _offset);
                _start += skip;
                _offset += skip;

                var policy = new PlainScriptPolicy(region.EncodingName);
                var consumer = new RegionConsumer(region, session, policy);
                var reader = new PlainScriptReader(consumer, policy) { ThrowOnRefusal = true };
                consumer.Reader = reader;
                while (!consumer.Done)
                {
                    ct.ThrowIfCancellationRequested();
                    if (_start == _end && !Fill(ct)) throw Changed(region, "the script ends inside it");
                    long before = reader.Lexer.Position;
                    reader.Feed(_buffer, _start, _end - _start);
                    int used = (int)(reader.Lexer.Position - before);
                    _start += used;
                    _offset += used;
                    if (!consumer.Done && _start != _end) throw Changed(region, "its COPY data does not end as before");
                }
                var expected = region.Digest.Task.GetAwaiter().GetResult();
                if (!consumer.Digest.SequenceEqual(expected))
                {
                    session.AbortCopy();
                    throw Changed(region, "its data differs from the first reading");
                }
                session.EndCopy();
            }

            private bool Fill(CancellationToken ct)
            {
                ct.ThrowIfCancellationRequested();
                if (_start > 0 && _start == _end) { _start = _end = 0; }
                int n = _stream!.Read(_buffer, _end, _buffer.Length - _end);
                if (n <= 0) return false;
                _end += n;
                return true;
            }

            private static PgBackupException Changed(RegionItem region, string what) =>
                new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                    $"The backup changed while it was being restored: at {region.Origin}, {what}. Nothing of {region.Table.QualifiedName} was loaded from it.");

            public void Dispose() => _stream?.Dispose();
        }

        /// <summary>Runs exactly one COPY block: the one the main reading handed over.</summary>
        private sealed class RegionConsumer : IPlainScriptConsumer
        {
            private readonly RegionItem _region;
            private readonly ScriptSession _session;
            private readonly PlainScriptPolicy _policy;
            private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            private bool _started;

            public RegionConsumer(RegionItem region, ScriptSession session, PlainScriptPolicy policy)
            {
                _region = region;
                _session = session;
                _policy = policy;
            }

            public PlainScriptReader? Reader { get; set; }
            public bool Done { get; private set; }
            public byte[] Digest { get; private set; } = Array.Empty<byte>();

            public void Statement(SqlStatement statement, StatementInfo info)
            {
                if (_started || info.Action != StatementAction.Copy || info.CopyCommand != _region.Command)
                    throw Changed($"it now holds '{statement.Describe()}'");
                _started = true;
                RegionDigest.AddStatement(_hash, info.CopyCommand);
                _session.BeginCopy(info.CopyCommand, _policy.Encoding, _region.Origin, _region.Freeze);
            }

            public void CopyData(byte[] buffer, int offset, int count)
            {
                _hash.AppendData(buffer, offset, count);
                _session.CopyData(buffer, offset, count);
            }

            public void CopyEnd(long rows)
            {
                Digest = _hash.GetHashAndReset();
                _hash.Dispose();
                Done = true;
                // Read nothing past the block: the rest of the buffer is for the next region.
                Reader!.Lexer.Stop();
            }

            private PgBackupException Changed(string what) =>
                new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                    $"The backup changed while it was being restored: at {_region.Origin}, {what}.");
        }
    }
}
