using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// A gzip write stage that compresses on several cores, the way pigz does: the input is cut into blocks of
    /// <see cref="BlockSize"/> bytes, each block becomes an independent gzip member compressed on a worker thread, and
    /// the members are written to the next stage in input order. A series of gzip members is one valid .gz file
    /// (RFC 1952): gunzip, zcat, pigz and .NET's GZipStream read it whole. The output does not depend on the number of
    /// workers.
    /// <para>Each member's header carries an extra field ('P','G') holding the member's size in bytes, so that
    /// <see cref="GzipMemberReader"/> can find the members' boundaries on any runtime (.NET Framework's GZipStream
    /// reads only a file's first member). Other readers skip the field, as RFC 1952 says.</para>
    /// <para>Memory is bounded: at most <c>workers + 1</c> blocks are in flight (one more is being filled), each one
    /// input block and its compressed output, rented from the shared array pool.</para>
    /// </summary>
    public sealed class ParallelGzipStream : Stream, IAbortableStage
    {
        public const int DefaultBlockSize = 1 << 20;
        /// <summary>The gzip header with the size field: 10 bytes of RFC 1952 header, XLEN, 'P' 'G', LEN, size.</summary>
        internal const int HeaderLength = 20;
        private const int FieldLength = HeaderLength - 10;
        internal const byte FieldId1 = (byte)'P', FieldId2 = (byte)'G';

        private readonly Stream _inner;
        private readonly int _level;
        private readonly bool _leaveOpen;
        private readonly int _maxInFlight;
        private readonly Queue<Job> _inFlight = new Queue<Job>();
        // Dedicated worker threads, not the thread pool: each thread that runs zlib keeps a malloc arena, so a few
        // fixed threads keep the native memory small.
        private readonly BlockingCollection<Job> _work = new BlockingCollection<Job>();
        private readonly List<Thread> _threads = new List<Thread>();
        private byte[]? _block;
        private int _filled;
        private long _blocks;
        private bool _faulted;
        private bool _disposed;

        /// <summary>Test hook: runs on the worker thread before a block (by index) is compressed.</summary>
        internal Action<long>? BeforeCompress { get; set; }

        public ParallelGzipStream(Stream inner, int level, int workers = 0, int blockSize = DefaultBlockSize, bool leaveOpen = true)
        {
            if (blockSize < 1024 || blockSize > 64 << 20) throw new ArgumentOutOfRangeException(nameof(blockSize));
            _inner = inner ?? throw new ArgumentNullException(nameof(inner));
            _level = level;
            _leaveOpen = leaveOpen;
            Workers = workers > 0 ? workers : DefaultWorkers;
            BlockSize = blockSize;
            _maxInFlight = Workers + 1;
        }

        /// <summary>One worker per core, at most 4: pg_dump rarely writes faster than four cores compress.</summary>
        public static int DefaultWorkers => Math.Max(1, Math.Min(4, Environment.ProcessorCount));

        public int Workers { get; }
        public int BlockSize { get; }
        /// <summary>Bytes given to the stage (uncompressed).</summary>
        public long BytesIn { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(ParallelGzipStream));
            if (_faulted) throw new InvalidOperationException("An earlier write to the gzip stage failed.");
            try
            {
                while (count > 0)
                {
                    _block ??= ArrayPool<byte>.Shared.Rent(BlockSize);
                    int n = Math.Min(count, BlockSize - _filled);
                    Buffer.BlockCopy(buffer, offset, _block, _filled, n);
                    _filled += n;
                    offset += n;
                    count -= n;
                    BytesIn += n;
                    if (_filled == BlockSize) Submit();
                }
                WriteCompleted(wait: false);
            }
            catch
            {
                _faulted = true;
                throw;
            }
        }

        private void Submit()
        {
            // Bounded: wait for the oldest block (and write it) before starting another.
            while (_inFlight.Count >= _maxInFlight) WriteHead();
            if (_threads.Count < Workers)
            {
                var t = new Thread(Work) { IsBackground = true, Name = "pgbackup-gzip" };
                t.Start();
                _threads.Add(t);
            }
            var job = new Job(_block!, _filled, _blocks++);
            _block = null;
            _filled = 0;
            _inFlight.Enqueue(job);
            _work.Add(job);
        }

        private void Work()
        {
            foreach (var job in _work.GetConsumingEnumerable())
            {
                try
                {
                    BeforeCompress?.Invoke(job.Index);
                    job.Result = CompressMember(job.Block, job.Count, _level);
                }
                catch (Exception e)
                {
                    job.Error = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(job.Block);
                    job.Done.Set();
                }
            }
        }

        private void WriteCompleted(bool wait)
        {
            while (_inFlight.Count > 0 && (wait || _inFlight.Peek().Done.IsSet)) WriteHead();
        }

        private void WriteHead()
        {
            var job = _inFlight.Dequeue();
            job.Done.Wait();
            job.Done.Dispose();
            job.Error?.Throw();
            var member = job.Result;
            try { _inner.Write(member.Buffer, 0, member.Length); }
            finally { ArrayPool<byte>.Shared.Return(member.Buffer); }
        }

        /// <summary>Stops without writing anything more (after a failure elsewhere in the pipeline); frees the workers.</summary>
        public void Abort()
        {
            _faulted = true;
            Dispose();
        }

        /// <summary>Writes the members that are ready; a member is only ever written whole, so this does not end one.</summary>
        public override void Flush()
        {
            if (_disposed || _faulted) return;
            WriteCompleted(wait: false);
            _inner.Flush();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                try
                {
                    if (!_faulted)
                    {
                        if (_filled > 0) Submit();
                        WriteCompleted(wait: true);
                        // An empty input is still a valid .gz: one empty member.
                        if (_blocks == 0) _inner.Write(EmptyMember, 0, EmptyMember.Length);
                    }
                }
                catch
                {
                    _faulted = true;
                    throw;
                }
                finally
                {
                    // After a failure: let the workers finish and give their buffers back; nothing more is written.
                    _work.CompleteAdding();
                    while (_inFlight.Count > 0)
                    {
                        var job = _inFlight.Dequeue();
                        job.Done.Wait();
                        job.Done.Dispose();
                        if (job.Error is null) ArrayPool<byte>.Shared.Return(job.Result.Buffer);
                    }
                    foreach (var t in _threads) t.Join();
                    _work.Dispose();
                    if (_block is not null) ArrayPool<byte>.Shared.Return(_block);
                    _block = null;
                    if (!_leaveOpen) _inner.Dispose();
                }
            }
            base.Dispose(disposing);
        }

        private static readonly byte[] EmptyMember = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

        private sealed class Job
        {
            public Job(byte[] block, int count, long index)
            {
                Block = block;
                Count = count;
                Index = index;
            }

            public byte[] Block { get; }
            public int Count { get; }
            public long Index { get; }
            public Member Result;
            public ExceptionDispatchInfo? Error;
            public readonly ManualResetEventSlim Done = new ManualResetEventSlim(false);
        }

        internal readonly struct Member
        {
            public Member(byte[] buffer, int length) { Buffer = buffer; Length = length; }
            public byte[] Buffer { get; }
            public int Length { get; }
        }

        /// <summary>One gzip member of a block, with the size field; its buffer is rented from the shared pool.</summary>
        internal static Member CompressMember(byte[] block, int count, int level)
        {
            // Room for the size field before GZipStream's own 10-byte header, which is then moved to the front.
            var output = new PooledWriteStream(FieldLength + count / 4 + 4096, FieldLength);
            try
            {
                using (var gzip = Compression.CreateSingleGzip(output, level)) gzip.Write(block, 0, count);
                var b = output.Buffer;
                int length = output.Count;
                // zlib writes a plain header: 1f 8b 08, no flags, MTIME, XFL, OS. Anything else is left as it is.
                if (length >= FieldLength + 18 && b[FieldLength] == 0x1f && b[FieldLength + 1] == 0x8b && b[FieldLength + 2] == 8 && b[FieldLength + 3] == 0)
                {
                    Buffer.BlockCopy(b, FieldLength, b, 0, 10);
                    b[3] = 0x04; // FEXTRA
                    b[10] = 8; b[11] = 0; // XLEN
                    b[12] = FieldId1; b[13] = FieldId2; b[14] = 4; b[15] = 0; // subfield 'PG', 4 bytes
                    WriteUInt32(b, 16, (uint)length);
                    return new Member(b, length);
                }
                Buffer.BlockCopy(b, FieldLength, b, 0, length - FieldLength);
                return new Member(b, length - FieldLength);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(output.Buffer);
                throw;
            }
        }

        internal static void WriteUInt32(byte[] b, int at, uint v)
        {
            b[at] = (byte)v; b[at + 1] = (byte)(v >> 8); b[at + 2] = (byte)(v >> 16); b[at + 3] = (byte)(v >> 24);
        }

        internal static uint ReadUInt32(byte[] b, int at) => (uint)(b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24);

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => !_disposed;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesIn; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        /// <summary>A write-only stream into one growable array rented from the shared pool.</summary>
        private sealed class PooledWriteStream : Stream
        {
            public PooledWriteStream(int capacity, int start)
            {
                Buffer = ArrayPool<byte>.Shared.Rent(capacity);
                Count = start;
            }

            public byte[] Buffer { get; private set; }
            public int Count { get; private set; }

            public override void Write(byte[] buffer, int offset, int count)
            {
                if (Count + count > Buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Count + count, Buffer.Length * 2));
                    System.Buffer.BlockCopy(Buffer, 0, bigger, 0, Count);
                    ArrayPool<byte>.Shared.Return(Buffer);
                    Buffer = bigger;
                }
                System.Buffer.BlockCopy(buffer, offset, Buffer, Count, count);
                Count += count;
            }

            public override void Flush() { }
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => Count;
            public override long Position { get => Count; set => throw new NotSupportedException(); }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
        }
    }

    /// <summary>
    /// Reads a .gz file member by member: members written by <see cref="ParallelGzipStream"/> (with their size in the
    /// header) are each cut out and decompressed on their own, which works on every runtime; from the first member
    /// without that field on (a file of gzip, pigz or the guide's scripts), the rest goes to the runtime's GZipStream.
    /// </summary>
    public sealed class GzipMemberReader : ReadOnlyStream
    {
        private const int MaxMember = 64 << 20;
        private readonly Stream _inner;
        private readonly bool _leaveOpen;
        private readonly byte[] _header = new byte[ParallelGzipStream.HeaderLength];
        private Stream? _rest;
        private byte[]? _output;
        private int _outputPos, _outputLength;
        private bool _ended;

        public GzipMemberReader(Stream inner, bool leaveOpen = false)
        {
            _inner = inner ?? throw new ArgumentNullException(nameof(inner));
            _leaveOpen = leaveOpen;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (count == 0) return 0;
            while (true)
            {
                if (_rest is not null) return _rest.Read(buffer, offset, count);
                if (_outputPos < _outputLength)
                {
                    int n = Math.Min(count, _outputLength - _outputPos);
                    Buffer.BlockCopy(_output!, _outputPos, buffer, offset, n);
                    _outputPos += n;
                    return n;
                }
                if (_ended || !NextMember()) return 0;
            }
        }

        /// <summary>Decompresses the next member into the output buffer; false at the end of the file.</summary>
        private bool NextMember()
        {
            int got = ReadFully(_header, 0, _header.Length);
            if (got == 0)
            {
                _ended = true;
                return false;
            }
            var h = _header;
            bool ours = got == h.Length && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8 && h[3] == 0x04 && h[10] == 8 && h[11] == 0
                        && h[12] == ParallelGzipStream.FieldId1 && h[13] == ParallelGzipStream.FieldId2 && h[14] == 4 && h[15] == 0;
            if (!ours)
            {
                // Not one of PgBackup's members: the runtime's reader takes the rest, from this member's first byte.
                // (The header buffer is not used again once the runtime's reader has taken over.)
                _rest = new GZipStream(new PrefixedStream(h, got, _inner), CompressionMode.Decompress, leaveOpen: true);
                return true;
            }
            uint size = ParallelGzipStream.ReadUInt32(h, 16);
            if (size < h.Length + 10 || size > MaxMember)
                throw new InvalidDataException($"The gzip member's size field ({size}) is not valid: the file is damaged.");
            var member = ArrayPool<byte>.Shared.Rent((int)size);
            try
            {
                Buffer.BlockCopy(h, 0, member, 0, h.Length);
                if (ReadFully(member, h.Length, (int)size - h.Length) != size - h.Length)
                    throw new InvalidDataException("The gzip file ends in the middle of a member: it is cut short.");
                uint expected = ParallelGzipStream.ReadUInt32(member, (int)size - 4);
                if (expected > MaxMember) throw new InvalidDataException("A gzip member is larger than PgBackup writes: the file is damaged.");
                if (_output is null || _output.Length < expected)
                {
                    if (_output is not null) ArrayPool<byte>.Shared.Return(_output);
                    _output = ArrayPool<byte>.Shared.Rent(Math.Max((int)expected, 1));
                }
                int length = 0;
                using (var gzip = new GZipStream(new MemoryStream(member, 0, (int)size, writable: false), CompressionMode.Decompress))
                {
                    int n;
                    while (length < _output.Length && (n = gzip.Read(_output, length, _output.Length - length)) > 0) length += n;
                    // More than the recorded size: damaged (the check below fails).
                    if (length == _output.Length && gzip.ReadByte() >= 0) length++;
                }
                if (length != expected)
                    throw new InvalidDataException("A gzip member does not decompress to its recorded size: the file is damaged.");
                _outputPos = 0;
                _outputLength = length;
                return true;
            }
            finally { ArrayPool<byte>.Shared.Return(member); }
        }

        private int ReadFully(byte[] buffer, int offset, int count) => ReadFully(_inner, buffer, offset, count);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _rest?.Dispose();
                if (_output is not null) ArrayPool<byte>.Shared.Return(_output);
                _output = null;
                if (!_leaveOpen) _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
