using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// A write-only stream that stores what is written as one object of a blob service, without a local copy: it fills
    /// one block (S3: part) in memory and uploads it while the next one fills, at most <c>UploadConcurrency</c> blocks at
    /// a time, so memory stays at about block size × (concurrency + 1). An object smaller than one block is stored with
    /// one request. Nothing exists under the name before <see cref="Complete"/>; <see cref="Abort"/> cancels the blocks in
    /// flight and leaves nothing. Subclasses say how to start, stage one block, store or commit, and abort.
    /// </summary>
    internal abstract class BlockUploadStream : Stream
    {
        /// <summary>From this block on, each block is twice as large (about 300 GiB at the default 5 MiB blocks).</summary>
        internal const int PartsPerSize = 2000;

        /// <summary>The buffer an upload starts with, before it is known to need a whole block.</summary>
        internal const int FirstBufferSize = 64 << 10;

        private readonly StoreConnection _connection;
        private readonly string _noun;
        private readonly bool _uniform;
        private readonly CancellationTokenSource _stop;
        private readonly SemaphoreSlim _slots;
        private readonly ConcurrentBag<byte[]> _spare = new ConcurrentBag<byte[]>();
        private readonly List<Task> _inFlight = new List<Task>();
        private readonly SortedList<int, string> _staged = new SortedList<int, string>();
        private byte[] _current;
        private int _filled;
        private int _blockNumber;
        private Exception? _failure;
        private bool _started, _completed, _aborted;

        /// <param name="noun">What the service calls a block ("part", "block"), for messages.</param>
        /// <param name="uniform">Every block of the base size (services that need uniform parts).</param>
        protected BlockUploadStream(StoreConnection connection, string target, string noun, bool uniform, CancellationToken ct)
        {
            _connection = connection;
            Target = target;
            _noun = noun;
            _uniform = uniform;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _slots = new SemaphoreSlim(connection.Options.UploadConcurrency, connection.Options.UploadConcurrency);
            // Small at first: a manifest (a few KB) never needs a block buffer; data outgrows it on its first writes.
            _current = new byte[Math.Min(FirstBufferSize, BlockSize(1))];
        }

        /// <summary>The object's path or URI, for messages.</summary>
        protected string Target { get; }

        /// <summary>The most blocks the service allows in one object.</summary>
        protected abstract int MaxBlocks { get; }

        /// <summary>The error for an object that needs more than <see cref="MaxBlocks"/> blocks of <paramref name="blockBytes"/>.</summary>
        protected abstract PgBackupException TooManyBlocks(int blockBytes);

        /// <summary>Called once, before the first block is staged (S3: starts the multipart upload).</summary>
        protected virtual void Begin(CancellationToken ct) { }

        /// <summary>Uploads block <paramref name="number"/> (from 1); returns what the commit needs of it (S3: its ETag, Azure: its id).</summary>
        protected abstract Task<string> StageAsync(int number, byte[] data, int length, bool last, CancellationToken ct);

        /// <summary>Stores an object smaller than one block with one request.</summary>
        protected abstract void PutWhole(byte[] data, int length, CancellationToken ct);

        /// <summary>Makes the object of the staged blocks, given in order (what <see cref="StageAsync"/> returned for each).</summary>
        protected abstract void CommitBlocks(IList<string> staged, CancellationToken ct);

        /// <summary>Called by <see cref="Abort"/> after <see cref="Begin"/>, once no block is in flight (S3: aborts the multipart upload).</summary>
        protected virtual void AbortStarted() { }

        /// <summary>Bytes accepted so far.</summary>
        public long Length64 { get; private set; }

        private int BlockSize(int number) => PartSizeOf(number, _connection.Options.PartSizeBytes, _uniform);

        /// <summary>
        /// The size of block <paramref name="partNumber"/>: the base size, doubled every <see cref="PartsPerSize"/>
        /// blocks (at most 1 GiB), or always the base size for services that need uniform parts.
        /// </summary>
        internal static int PartSizeOf(int partNumber, int baseSize, bool uniform)
        {
            if (uniform) return baseSize;
            long size = (long)baseSize << Math.Min(8, (partNumber - 1) / PartsPerSize);
            return (int)Math.Min(size, 1L << 30);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            ThrowIfFailed();
            if (_completed || _aborted) throw new ObjectDisposedException(GetType().Name);
            while (count > 0)
            {
                if (_filled == _current.Length)
                {
                    // The first buffer is full: the object needs whole blocks.
                    var whole = Rent(BlockSize(_blockNumber + 1));
                    Buffer.BlockCopy(_current, 0, whole, 0, _filled);
                    _current = whole;
                }
                int n = Math.Min(count, _current.Length - _filled);
                Buffer.BlockCopy(buffer, offset, _current, _filled, n);
                _filled += n;
                offset += n;
                count -= n;
                Length64 += n;
                if (_filled == _current.Length && _filled == BlockSize(_blockNumber + 1)) StartBlock(last: false);
            }
        }

        private void StartBlock(bool last)
        {
            var ct = _stop.Token;
            if (!_started)
            {
                Begin(ct);
                _started = true;
            }
            // Back-pressure: wait while as many blocks as allowed are in flight.
            try { _slots.Wait(ct); }
            catch (OperationCanceledException) { ThrowIfFailed(); throw; }
            ThrowIfFailed();
            if (_blockNumber >= MaxBlocks) throw TooManyBlocks(_current.Length);
            int number = ++_blockNumber;
            var data = _current;
            int length = _filled;
            _current = last ? Array.Empty<byte>() : Rent(BlockSize(number + 1));
            _filled = 0;
            var task = Task.Run(async () =>
            {
                try
                {
                    var staged = await StageAsync(number, data, length, last, ct).ConfigureAwait(false);
                    lock (_staged) _staged.Add(number, staged);
                }
                catch (Exception e)
                {
                    // A block cancelled because the upload stops (Ctrl+C, or another block failed) is not the cause.
                    if (!(e is OperationCanceledException && ct.IsCancellationRequested))
                        Interlocked.CompareExchange(ref _failure, _connection.Map(e, $"upload {_noun} {number} of", Target, write: true), null);
                    _stop.Cancel();
                }
                finally
                {
                    if (data.Length > 0) _spare.Add(data);
                    _slots.Release();
                }
            });
            lock (_inFlight)
            {
                _inFlight.RemoveAll(t => t.IsCompleted);
                _inFlight.Add(task);
            }
        }

        private byte[] Rent(int size)
        {
            // Buffers of an outgrown block size are dropped.
            while (_spare.TryTake(out var b))
                if (b.Length == size) return b;
            return new byte[size];
        }

        private void ThrowIfFailed()
        {
            var f = Volatile.Read(ref _failure);
            if (f is not null) throw f is PgBackupException ? f : new PgBackupException(_connection.UploadFailedId, ErrorKind.WriteError, $"Uploading {Target} failed: {f.Message}", Target, f);
        }

        private void WaitForBlocks()
        {
            Task[] pending;
            lock (_inFlight) pending = _inFlight.ToArray();
            try { Task.WaitAll(pending); } catch (AggregateException) { }
        }

        /// <summary>Stores the object: the last block and the commit, or one request when it is small.</summary>
        public void Complete()
        {
            ThrowIfFailed();
            if (_completed) return;
            var ct = _stop.Token;
            if (!_started)
                PutWhole(_current, _filled, ct);
            else
            {
                if (_filled > 0) StartBlock(last: true);
                WaitForBlocks();
                ThrowIfFailed();
                // No failure, not stopped: every block from 1 to the last was staged.
                ct.ThrowIfCancellationRequested();
                List<string> staged;
                lock (_staged) staged = _staged.Values.ToList();
                CommitBlocks(staged, ct);
            }
            _completed = true;
            DropBuffers();
        }

        /// <summary>Stops the upload: blocks in flight are cancelled, and what was staged is dropped (<see cref="AbortStarted"/>).</summary>
        public void Abort()
        {
            if (_completed || _aborted) return;
            _aborted = true;
            _stop.Cancel();
            WaitForBlocks();
            DropBuffers();
            if (_started) AbortStarted();
        }

        private void DropBuffers()
        {
            _current = Array.Empty<byte>();
            while (_spare.TryTake(out _)) { }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                if (!_completed) Abort();
                _stop.Dispose();
            }
            base.Dispose(disposing);
        }

        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Length64;
        public override long Position { get => Length64; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
