using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public sealed class PipelineTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-pipeline-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        private static byte[] SampleData(int size)
        {
            var rnd = new Random(42);
            var bytes = new byte[size];
            for (int i = 0; i < size; i++) bytes[i] = (byte)"abcdefghij\t\n0123456789"[rnd.Next(22)];
            return bytes;
        }

        [Theory]
        [InlineData(CompressionMethod.Gzip, 6)]
        [InlineData(CompressionMethod.Gzip, 1)]
        [InlineData(CompressionMethod.Zstd, 3)]
        [InlineData(CompressionMethod.None, 0)]
        public void CompressesHashesAndRoundTrips(CompressionMethod method, int level)
        {
            var data = SampleData(3_000_000);
            var target = new MemoryStream();
            var hashing = new HashingStream(target);
            using (var c = Compression.CreateCompressor(method, level, hashing))
                StreamPump.Copy(new MemoryStream(data), c, null, CancellationToken.None);
            Assert.Equal(target.Length, hashing.BytesWritten);
            Assert.Equal(Convert.ToHexString(SHA256.HashData(target.ToArray())).ToLowerInvariant(), hashing.HashHex);
            using var back = Compression.CreateDecompressor(method, new MemoryStream(target.ToArray()));
            var restored = new MemoryStream();
            back.CopyTo(restored);
            Assert.Equal(data, restored.ToArray());
        }

        [Theory]
        [InlineData(CompressionMethod.Gzip, "damaged")]
        [InlineData(CompressionMethod.Gzip, "truncated")]
        [InlineData(CompressionMethod.Zstd, "damaged")]
        [InlineData(CompressionMethod.Zstd, "truncated")]
        public void DamagedOrTruncatedDataIsToldApartFromOtherFailures(CompressionMethod method, string how)
        {
            var compressed = new MemoryStream();
            using (var c = Compression.CreateCompressor(method, Compression.DefaultLevel(method), compressed))
            {
                var data = SampleData(2_000_000);
                c.Write(data, 0, data.Length);
            }
            var bytes = compressed.ToArray();
            if (how == "truncated") Array.Resize(ref bytes, bytes.Length / 2);
            // The headers: damage inside a zstd block can pass unnoticed (the frames carry no checksum; the manifest's
            // SHA-256 catches it).
            else for (int i = 0; i < 64; i++) bytes[i] ^= 0x5a;
            var e = Assert.ThrowsAny<Exception>(() => Compression.CreateDecompressor(method, new MemoryStream(bytes)).CopyTo(Stream.Null));
            Assert.True(Compression.IsDamagedData(e), $"{e.GetType().FullName}: {e.Message}");
            Assert.False(Compression.IsDamagedData(new IOException("No space left on device")));
            Assert.False(Compression.IsDamagedData(new OperationCanceledException()));
        }

        [Theory]
        [InlineData(1, 1)]
        [InlineData(3, 1)]
        [InlineData(4, 6)]
        [InlineData(6, 6)]
        [InlineData(8, 6)]
        [InlineData(9, 9)]
        public void GzipLevelsAreTheRuntimesFastestOptimalAndSmallest(int asked, int written)
        {
            // The xUnit project runs the net8.0 build, where CompressionLevel.SmallestSize exists.
            Assert.Equal(written, Compression.GzipLevelUsed(asked));
            // Written as zlib writes that level: the same bytes as a reference GZipStream at it (the header's XFL byte
            // says 4 for the fastest level, 2 for the smallest, 0 otherwise).
            var data = SampleData(200_000);
            var mine = new MemoryStream();
            using (var z = Compression.CreateSingleGzip(mine, asked)) z.Write(data, 0, data.Length);
            Assert.Equal(written == 1 ? 4 : written == 9 ? 2 : 0, mine.ToArray()[8]);
        }

        [Fact]
        public void ZstdOutputIsReadByTheZstdTool()
        {
            var data = SampleData(500_000);
            var file = Path.Combine(_dir, "x.zst");
            using (var f = File.Create(file))
            using (var c = Compression.CreateCompressor(CompressionMethod.Zstd, 3, f))
                c.Write(data, 0, data.Length);
            var p = Process.Start(new ProcessStartInfo("zstd", new[] { "-d", "-q", "-c", file }) { RedirectStandardOutput = true })!;
            var ms = new MemoryStream();
            p.StandardOutput.BaseStream.CopyTo(ms);
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
            Assert.Equal(data, ms.ToArray());
        }

        [Fact]
        public void AFailingStageStopsThePumpWithItsError()
        {
            var failing = new FailingStream(1_500_000);
            var e = Assert.Throws<IOException>(() => StreamPump.Copy(new MemoryStream(SampleData(8_000_000)), failing, null, CancellationToken.None));
            Assert.Equal("disk full (test)", e.Message);
        }

        [Fact]
        public void CancellationStopsThePump()
        {
            using var cts = new CancellationTokenSource();
            var slow = new SlowSource();
            cts.CancelAfter(300);
            Assert.ThrowsAny<OperationCanceledException>(() => StreamPump.Copy(slow, Stream.Null, null, cts.Token));
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void WhenThePumpStopsNoWriteIsStillRunning(bool cancel)
        {
            // The caller disposes the stages as soon as Copy returns: a write still running then (a compressor handed
            // a buffer that disposal returns) once took a test host down. The run stops while the first write runs.
            using var cts = new CancellationTokenSource();
            var slow = new SlowWriteStream(TimeSpan.FromMilliseconds(400));
            // Cancelled from a thread of its own, as Ctrl+C is (a pool thread can be late by seconds on a busy machine).
            if (cancel) slow.OnWrite = () => { if (slow.Writes == 1) new Thread(cts.Cancel).Start(); };
            bool failed = false;
            var source = new FailingSource(cancel ? long.MaxValue : 3 << 20, () => Volatile.Read(ref slow.Writes) > 0, () => failed = true);
            slow.Stopped = () => cancel ? cts.IsCancellationRequested : Volatile.Read(ref failed);
            var e = Record.Exception(() => StreamPump.Copy(source, slow, null, cts.Token));
            Assert.True(cancel ? e is OperationCanceledException : e is IOException, e?.ToString());
            Assert.Equal(0, slow.InWrite);
            // Once stopped, queued buffers are not written (one write may begin in the instant of the stop).
            Assert.InRange(slow.WritesAfterStop, 0, 1);
        }

        private sealed class SlowWriteStream : Stream
        {
            private readonly TimeSpan _delay;
            public SlowWriteStream(TimeSpan delay) { _delay = delay; }
            public int InWrite;
            public int Writes;
            public int WritesAfterStop;
            public Action? OnWrite;
            public Func<bool> Stopped = () => false;
            public override void Write(byte[] buffer, int offset, int count)
            {
                Interlocked.Increment(ref InWrite);
                Interlocked.Increment(ref Writes);
                if (Stopped()) Interlocked.Increment(ref WritesAfterStop);
                OnWrite?.Invoke();
                Thread.Sleep(_delay);
                Interlocked.Decrement(ref InWrite);
            }
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
        }

        /// <summary>Gives <c>limit</c> bytes at once, then, once <c>failWhen</c> holds, fails as a broken pipe would.</summary>
        private sealed class FailingSource : ReadOnlyStream
        {
            private readonly Func<bool> _failWhen;
            private readonly Action _failing;
            private long _left;
            public FailingSource(long limit, Func<bool> failWhen, Action failing) { _left = limit; _failWhen = failWhen; _failing = failing; }
            public override int Read(byte[] buffer, int offset, int count)
            {
                if (_left <= 0)
                {
                    SpinWait.SpinUntil(_failWhen, TimeSpan.FromSeconds(10));
                    _failing();
                    throw new IOException("source failed (test)");
                }
                int n = (int)Math.Min(count, _left);
                _left -= n;
                return n;
            }
        }

        [Fact]
        public void LocalStoreCommitsOnlyOnCommitAndAbortLeavesNothing()
        {
            var store = new LocalStore(_dir, create: false);
            using (var w = store.OpenWrite("backup_db_20240101_000000.sql.gz", CancellationToken.None))
            {
                w.Stream.Write(new byte[] { 1, 2, 3 }, 0, 3);
                Assert.Equal(new[] { "backup_db_20240101_000000.sql.gz.partial" }, store.List(null, CancellationToken.None).Select(e => e.Name));
                w.Finish(CancellationToken.None);
                Assert.False(File.Exists(Path.Combine(_dir, "backup_db_20240101_000000.sql.gz")));
                w.Commit(CancellationToken.None);
            }
            Assert.Equal(new[] { "backup_db_20240101_000000.sql.gz" }, store.List(null, CancellationToken.None).Select(e => e.Name));
            using (var w = store.OpenWrite("backup_db_20240101_000001.sql.gz", CancellationToken.None))
                w.Stream.Write(new byte[] { 1 }, 0, 1);
            Assert.Single(store.List(null, CancellationToken.None));
            // Never replaces an existing backup.
            using var again = store.OpenWrite("backup_db_20240101_000000.sql.gz", CancellationToken.None);
            again.Finish(CancellationToken.None);
            Assert.Equal(ErrorIds.BackupExists, Assert.Throws<PgBackupException>(() => again.Commit(CancellationToken.None)).ErrorId);
        }

        private sealed class FailingStream : MemoryStream
        {
            private readonly int _limit;
            public FailingStream(int limit) { _limit = limit; }
            public override void Write(byte[] buffer, int offset, int count)
            {
                if (Length + count > _limit) throw new IOException("disk full (test)");
                base.Write(buffer, offset, count);
            }
        }

        private sealed class SlowSource : Stream
        {
            public override int Read(byte[] buffer, int offset, int count) { Thread.Sleep(50); buffer[offset] = 1; return 1; }
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => 0; set { } }
            public override void Flush() { }
            public override long Seek(long o, SeekOrigin s) => throw new NotSupportedException();
            public override void SetLength(long v) { }
            public override void Write(byte[] b, int o, int c) { }
        }
    }
}
