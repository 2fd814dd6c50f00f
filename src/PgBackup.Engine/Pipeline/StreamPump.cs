using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// Moves bytes from a source to a chain of stages with the reading and the writing on separate threads, joined by
    /// a small bounded queue: pg_dump never waits for a compressor that is briefly busy, and memory stays bounded
    /// (queue depth times buffer size).
    /// </summary>
    public static class StreamPump
    {
        public const int BufferSize = 1 << 20;
        private const int QueueDepth = 4;

        /// <summary>Copies everything; returns the number of bytes read from <paramref name="source"/>.</summary>
        public static long Copy(Stream source, Stream destination, Action<long>? onProgress, CancellationToken cancellationToken)
        {
            using var queue = new BlockingCollection<(byte[] Buffer, int Count)>(QueueDepth);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            long total = 0;
            var writer = Task.Factory.StartNew(() =>
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

            try
            {
                while (true)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                    int filled = 0;
                    try
                    {
                        // Fill most of the buffer: fewer, larger writes downstream.
                        while (filled < BufferSize / 2 && !stop.IsCancellationRequested)
                        {
                            int n = source.Read(buffer, filled, BufferSize - filled);
                            if (n == 0) break;
                            filled += n;
                        }
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        throw;
                    }
                    if (filled == 0)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        break;
                    }
                    total += filled;
                    queue.Add((buffer, filled), stop.Token);
                    onProgress?.Invoke(total);
                }
                queue.CompleteAdding();
            }
            catch (Exception) when (writer.IsFaulted || (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
            {
                // The writer failed first: report its error, not the reader's.
            }
            catch
            {
                // The source failed, or the caller cancelled: stop the writer and wait until it has left the stages.
                // The caller aborts and disposes them next; a stage written to while it is disposed (a compressor's
                // worker handed a block that disposal just returned) must never happen.
                stop.Cancel();
                try { writer.Wait(); }
                catch (AggregateException) { /* its error is secondary to this one */ }
                while (queue.TryTake(out var left)) ArrayPool<byte>.Shared.Return(left.Buffer);
                throw;
            }
            finally
            {
                if (!queue.IsAddingCompleted) queue.CompleteAdding();
            }

            try
            {
                writer.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !writer.IsFaulted)
            {
            }
            finally
            {
                while (queue.TryTake(out var left)) ArrayPool<byte>.Shared.Return(left.Buffer);
            }
            cancellationToken.ThrowIfCancellationRequested();
            return total;
        }
    }
}
