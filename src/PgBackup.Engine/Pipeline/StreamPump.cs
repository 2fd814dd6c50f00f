using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// The writing half of a pump: buffers handed over by a producer are written to a chain of stages on a thread of
    /// their own, through a small bounded queue, so the producer (pg_dump's output, or the native dump) never waits
    /// for a stage that is briefly busy, and memory stays bounded (queue depth times buffer size).
    /// </summary>
    internal sealed class WriterQueue : IDisposable
    {
        public const int BufferSize = 1 << 20;
        private const int QueueDepth = 4;

        private readonly BlockingCollection<(byte[] Buffer, int Count)> _queue = new BlockingCollection<(byte[], int)>(QueueDepth);
        private readonly CancellationTokenSource _stop;
        private readonly CancellationToken _caller;
        private readonly Task _writer;

        public WriterQueue(Stream destination, CancellationToken cancellationToken)
        {
            _caller = cancellationToken;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var stop = _stop;
            var queue = _queue;
            _writer = Task.Factory.StartNew(() =>
            {
                try
                {
                    foreach (var (buffer, count) in queue.GetConsumingEnumerable(stop.Token))
                    {
                        try
                        {
                            // A buffer already queued is not written once the run is stopped.
                            stop.Token.ThrowIfCancellationRequested();
                            destination.Write(buffer, 0, count);
                        }
                        finally { ArrayPool<byte>.Shared.Return(buffer); }
                    }
                }
                catch
                {
                    stop.Cancel();
                    throw;
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>Cancelled when the caller cancels or the writer failed.</summary>
        public CancellationToken Token => _stop.Token;

        /// <summary>The writer stopped on its own (a stage failed): its error is the one to report.</summary>
        public bool WriterFailed => _writer.IsFaulted || (_stop.IsCancellationRequested && !_caller.IsCancellationRequested);

        public static byte[] Rent() => ArrayPool<byte>.Shared.Rent(BufferSize);

        public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

        /// <summary>Hands a rented buffer to the writer, which returns it to the pool.</summary>
        public void Submit(byte[] buffer, int count)
        {
            try { _queue.Add((buffer, count), _stop.Token); }
            catch
            {
                Return(buffer);
                throw;
            }
        }

        /// <summary>The producer is done: waits until everything is written; the writer's error, if any, is thrown.</summary>
        public void Complete()
        {
            if (!_queue.IsAddingCompleted) _queue.CompleteAdding();
            try
            {
                _writer.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (!_caller.IsCancellationRequested && !_writer.IsFaulted)
            {
            }
            finally
            {
                Drain();
            }
            _caller.ThrowIfCancellationRequested();
        }

        /// <summary>
        /// The producer failed or the caller cancelled: stops the writer and waits until it has left the stages. The
        /// caller aborts and disposes them next; a stage written to while it is disposed (a compressor's worker handed
        /// a block that disposal just returned) must never happen.
        /// </summary>
        public void Abort()
        {
            _stop.Cancel();
            if (!_queue.IsAddingCompleted) _queue.CompleteAdding();
            try { _writer.Wait(); }
            catch (AggregateException) { /* its error is secondary to the producer's */ }
            Drain();
        }

        private void Drain()
        {
            while (_queue.TryTake(out var left)) Return(left.Buffer);
        }

        public void Dispose()
        {
            if (!_writer.IsCompleted) Abort();
            _queue.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>Moves bytes from a source stream to a chain of stages, reading and writing on separate threads (<see cref="WriterQueue"/>).</summary>
    public static class StreamPump
    {
        public const int BufferSize = WriterQueue.BufferSize;

        /// <summary>Copies everything; returns the number of bytes read from <paramref name="source"/>.</summary>
        public static long Copy(Stream source, Stream destination, Action<long>? onProgress, CancellationToken cancellationToken)
        {
            using var queue = new WriterQueue(destination, cancellationToken);
            long total = 0;
            try
            {
                while (true)
                {
                    queue.Token.ThrowIfCancellationRequested();
                    var buffer = WriterQueue.Rent();
                    int filled = 0;
                    try
                    {
                        // Fill most of the buffer: fewer, larger writes downstream.
                        while (filled < BufferSize / 2 && !queue.Token.IsCancellationRequested)
                        {
                            int n = source.Read(buffer, filled, BufferSize - filled);
                            if (n == 0) break;
                            filled += n;
                        }
                    }
                    catch
                    {
                        WriterQueue.Return(buffer);
                        throw;
                    }
                    if (filled == 0)
                    {
                        WriterQueue.Return(buffer);
                        break;
                    }
                    total += filled;
                    queue.Submit(buffer, filled);
                    onProgress?.Invoke(total);
                }
            }
            catch (Exception) when (queue.WriterFailed)
            {
                // The writer failed first: report its error (Complete throws it), not the reader's.
            }
            catch
            {
                queue.Abort();
                throw;
            }
            queue.Complete();
            return total;
        }
    }

    /// <summary>
    /// A stream a producer writes into (the native dump): its bytes are gathered into large buffers and written to
    /// the stages on another thread (<see cref="WriterQueue"/>). <see cref="Complete"/> ends it; disposing it without
    /// completing stops the writer.
    /// </summary>
    internal sealed class QueuedWriteStream : Stream
    {
        private readonly WriterQueue _queue;
        private readonly Action<long>? _onProgress;
        private byte[]? _buffer;
        private int _filled;
        private long _total;
        private bool _done;

        public QueuedWriteStream(Stream destination, Action<long>? onProgress, CancellationToken cancellationToken)
        {
            _queue = new WriterQueue(destination, cancellationToken);
            _onProgress = onProgress;
        }

        public long BytesWritten => _total;

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_done) throw new ObjectDisposedException(nameof(QueuedWriteStream));
            _queue.Token.ThrowIfCancellationRequested();
            while (count > 0)
            {
                _buffer ??= WriterQueue.Rent();
                int n = Math.Min(count, WriterQueue.BufferSize - _filled);
                Buffer.BlockCopy(buffer, offset, _buffer, _filled, n);
                _filled += n;
                offset += n;
                count -= n;
                _total += n;
                if (_filled == WriterQueue.BufferSize) Submit();
            }
        }

        private void Submit()
        {
            var b = _buffer!;
            _buffer = null;
            int n = _filled;
            _filled = 0;
            try { _queue.Submit(b, n); }
            catch (OperationCanceledException) when (_queue.WriterFailed)
            {
                // The writer's error is the one to report.
                _queue.Complete();
                throw;
            }
            _onProgress?.Invoke(_total);
        }

        /// <summary>Writes what is left and waits for the writer; its error, if any, is thrown.</summary>
        public void Complete()
        {
            if (_done) return;
            if (_filled > 0) Submit();
            _done = true;
            _queue.Complete();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                if (!_done)
                {
                    _done = true;
                    _queue.Abort();
                }
                if (_buffer is not null) WriterQueue.Return(_buffer);
                _buffer = null;
                _queue.Dispose();
            }
            base.Dispose(disposing);
        }

        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _total;
        public override long Position { get => _total; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
