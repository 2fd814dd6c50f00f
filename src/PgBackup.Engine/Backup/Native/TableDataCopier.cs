using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup.Native
{
    /// <summary>
    /// Table data as pg_dump writes it: each table's <c>COPY ... FROM stdin;</c>, its rows in COPY text format exactly
    /// as the server sends them, and <c>\.</c>. With several connections (all in the dump's snapshot), tables are
    /// read side by side and each table's block is written whole: one reader streams into the script, the others
    /// keep their block (in memory up to a limit, then in a temporary file) until the script is theirs. Workers take
    /// their table's lock with NOWAIT, as pg_dump's do; a table they cannot lock at once is read by the main
    /// connection, which holds every lock already.
    /// </summary>
    internal sealed class TableDataCopier
    {
        private const int SpoolInMemory = 8 << 20;
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        private readonly DumpSession _main;
        private readonly IReadOnlyList<DumpSession> _workers;
        private readonly IOperationLog _log;
        private readonly Action<string> _current;
        private readonly CancellationToken _ct;
        private readonly object _outputLock = new object();

        public TableDataCopier(DumpSession main, IReadOnlyList<DumpSession> workers, IOperationLog log, Action<string> current, CancellationToken ct)
        {
            _main = main;
            _workers = workers;
            _log = log;
            _current = current;
            _ct = ct;
        }

        /// <summary>The statement in the script: the columns COPY loads (not dropped, not generated).</summary>
        internal static string ScriptCopy(TableObj t)
        {
            var target = t.DataTarget;
            // pg_dump marks data loaded through the partition root with this comment (newlines in names made spaces).
            var via = ReferenceEquals(target, t) ? "" : "-- load via partition root " + target.Qualified.Replace('\n', ' ').Replace('\r', ' ') + "\n\n";
            return via + "COPY " + target.Qualified + " " + ColumnList(t) + "FROM stdin;\n";
        }

        private static string ServerCopy(TableObj t) => "COPY " + t.Qualified + " " + ColumnList(t) + "TO STDOUT";

        private static string ColumnList(TableObj t)
        {
            var columns = t.Columns.Where(c => !c.Dropped && (c.Generated == '\0' || c.Generated == ' ')).Select(c => PgIdentifier.Quote(c.Name)).ToList();
            return columns.Count == 0 ? " " : "(" + string.Join(", ", columns) + ") ";
        }

        public void CopyAll(List<TableDataObj> tables, Stream output, Func<TableObj, string> header)
        {
            if (_workers.Count == 0)
            {
                var buffer = new byte[1 << 16];
                foreach (var d in tables) CopyTable(_main, d.Table, header(d.Table), output, buffer);
                return;
            }
            CopyParallel(tables, output, header);
        }

        private void CopyTable(DumpSession session, TableObj t, string header, Stream output, byte[] buffer)
        {
            _ct.ThrowIfCancellationRequested();
            _current("Table " + t.Qualified);
            Write(output, header + ScriptCopy(t));
            session.CopyOut(ServerCopy(t), output, buffer);
            Write(output, "\\.\n\n\n");
        }

        private static void Write(Stream output, string text)
        {
            var bytes = Utf8.GetBytes(text);
            output.Write(bytes, 0, bytes.Length);
        }

        private void CopyParallel(List<TableDataObj> tables, Stream output, Func<TableObj, string> header)
        {
            // Largest first, so that the last tables to finish are small ones.
            var queue = new ConcurrentQueue<TableObj>(tables.Select(d => d.Table).OrderByDescending(t => t.Pages).ThenBy(t => t.Oid));
            var forMain = new ConcurrentQueue<TableObj>();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(_ct);
            int workersLeft = _workers.Count;
            var tasks = _workers.Select(worker => Task.Factory.StartNew(() =>
            {
                try
                {
                    var buffer = new byte[1 << 16];
                    var spool = new Spool();
                    while (!stop.IsCancellationRequested && queue.TryDequeue(out var t))
                    {
                        if (!TryLockNoWait(worker, t))
                        {
                            forMain.Enqueue(t);
                            continue;
                        }
                        CopyBlock(worker, t, header(t), output, buffer, spool);
                    }
                }
                catch
                {
                    stop.Cancel();
                    throw;
                }
                finally { Interlocked.Decrement(ref workersLeft); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToList();

            Exception? failure = null;
            try
            {
                var buffer = new byte[1 << 16];
                var spool = new Spool();
                while (!stop.IsCancellationRequested)
                {
                    if (forMain.TryDequeue(out var t) || queue.TryDequeue(out t)) CopyBlock(_main, t, header(t), output, buffer, spool);
                    else if (Volatile.Read(ref workersLeft) == 0 && forMain.IsEmpty) break;
                    else Thread.Sleep(20);
                }
            }
            catch (Exception e)
            {
                failure = e;
                stop.Cancel();
            }
            try { Task.WaitAll(tasks.ToArray()); }
            catch (AggregateException e) when (failure is null)
            {
                failure = e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? e.InnerExceptions[0];
            }
            catch (AggregateException) { }
            _ct.ThrowIfCancellationRequested();
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        private bool TryLockNoWait(DumpSession worker, TableObj t)
        {
            try
            {
                worker.Execute("LOCK TABLE " + t.Qualified + " IN ACCESS SHARE MODE NOWAIT");
                return true;
            }
            catch (PgBackupException e) when (DumpSession.SqlState(e) == "55P03")
            {
                // Another session waits for a stronger lock: the main connection, which holds this one, reads it.
                _log.Verbose($"{t.Qualified} is read on the main connection: another session is waiting to lock it.");
                return false;
            }
        }

        /// <summary>One table's block: straight into the script when it is free, else kept until it is.</summary>
        private void CopyBlock(DumpSession session, TableObj t, string header, Stream output, byte[] buffer, Spool spool)
        {
            _current("Table " + t.Qualified);
            using var block = new BlockStream(output, _outputLock, spool);
            Write(block, header + ScriptCopy(t));
            session.CopyOut(ServerCopy(t), block, buffer);
            Write(block, "\\.\n\n\n");
            block.Finish();
        }

        /// <summary>
        /// A reader's room for the part of a block it keeps while another reader holds the script: one buffer,
        /// allocated when first needed and reused for every table that reader copies. (A MemoryStream per table grew by
        /// doubling and left up to 16 MB of large-object garbage per table: 82 MB added at -Jobs 2 in the bench.)
        /// </summary>
        private sealed class Spool
        {
            private byte[]? _memory;
            public byte[] Memory => _memory ??= new byte[SpoolInMemory];
        }

        /// <summary>
        /// A table's block on its way to the shared script: written through while this reader holds the script, kept
        /// (memory, then a temporary file) while another reader does; whole blocks never interleave.
        /// </summary>
        private sealed class BlockStream : Stream
        {
            private readonly Stream _output;
            private readonly object _lock;
            private readonly Spool _spool;
            private bool _owner;
            private int _kept;
            private FileStream? _file;

            public BlockStream(Stream output, object outputLock, Spool spool)
            {
                _output = output;
                _lock = outputLock;
                _spool = spool;
            }

            public override void Write(byte[] buffer, int offset, int count)
            {
                if (!_owner && Monitor.TryEnter(_lock))
                {
                    _owner = true;
                    Drain();
                }
                if (_owner)
                {
                    _output.Write(buffer, offset, count);
                    return;
                }
                if (_file is null && _kept + count > SpoolInMemory)
                {
                    var path = Path.Combine(Path.GetTempPath(), "pgbackup-copy-" + Guid.NewGuid().ToString("n") + ".tmp");
                    _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
                    _file.Write(_spool.Memory, 0, _kept);
                    _kept = 0;
                }
                if (_file is not null) _file.Write(buffer, offset, count);
                else
                {
                    Buffer.BlockCopy(buffer, offset, _spool.Memory, _kept, count);
                    _kept += count;
                }
            }

            /// <summary>The block is complete: waits for the script and writes what was kept.</summary>
            public void Finish()
            {
                if (!_owner)
                {
                    Monitor.Enter(_lock);
                    _owner = true;
                    Drain();
                }
            }

            private void Drain()
            {
                if (_file is not null)
                {
                    // The spool's memory is free once the block went to the file: it is the copy buffer.
                    var memory = _spool.Memory;
                    _file.Position = 0;
                    int n;
                    while ((n = _file.Read(memory, 0, memory.Length)) > 0) _output.Write(memory, 0, n);
                    _file.Dispose();
                    _file = null;
                }
                else if (_kept > 0)
                    _output.Write(_spool.Memory, 0, _kept);
                _kept = 0;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _file?.Dispose();
                    _kept = 0;
                    if (_owner) Monitor.Exit(_lock);
                    _owner = false;
                }
                base.Dispose(disposing);
            }

            public override void Flush() { }
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
        }

        /// <summary>A large object's data as pg_dump writes it: lo_open, one lowrite per 16 kB of hex, lo_close.</summary>
        public void CopyLargeObject(uint oid, Stream output)
        {
            _ct.ThrowIfCancellationRequested();
            var id = oid.ToString(CultureInfo.InvariantCulture);
            Write(output, "BEGIN;\n\nSELECT pg_catalog.lo_open('" + id + "', 131072);\n");
            const int chunk = 16384, read = 64 * chunk;
            for (long offset = 0; ; offset += read)
            {
                var rows = _main.Query("SELECT pg_catalog.lo_get(@oid, @offset, @length) AS data", ("oid", oid), ("offset", offset), ("length", read));
                var data = rows.Count == 0 ? null : rows[0].Bytes("data");
                if (data is null || data.Length == 0) break;
                for (int i = 0; i < data.Length; i += chunk)
                {
                    int n = Math.Min(chunk, data.Length - i);
                    var sb = new StringBuilder(n * 2 + 40).Append("SELECT pg_catalog.lowrite(0, '\\x");
                    for (int k = 0; k < n; k++) sb.Append(Hex[data[i + k] >> 4]).Append(Hex[data[i + k] & 15]);
                    Write(output, sb.Append("');\n").ToString());
                }
                if (data.Length < read) break;
            }
            Write(output, "SELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n\n");
        }

        private const string Hex = "0123456789abcdef";
    }
}
