using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public sealed class ParallelGzipTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-pgzip-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        private static byte[] Data(int size, int seed = 7)
        {
            // Compressible, but every block differs: a block written out of order would show.
            var rnd = new Random(seed);
            var bytes = new byte[size];
            for (int i = 0; i < size; i++) bytes[i] = i % 97 == 0 ? (byte)rnd.Next(256) : (byte)"COPY public.t (a) FROM stdin;\n1\tabc\n"[i % 36];
            return bytes;
        }

        private static byte[] Compress(byte[] data, int workers, int blockSize, int chunk = 70_000)
        {
            var target = new MemoryStream();
            using (var z = new ParallelGzipStream(target, 6, workers, blockSize))
                for (int o = 0; o < data.Length; o += chunk) z.Write(data, o, Math.Min(chunk, data.Length - o));
            return target.ToArray();
        }

        private static byte[] ReadAll(Stream s)
        {
            var ms = new MemoryStream();
            s.CopyTo(ms);
            return ms.ToArray();
        }

        [Theory]
        [InlineData(0)]
        [InlineData(1)]
        [InlineData(4095)]
        [InlineData(4096)]
        [InlineData(4097)]
        [InlineData(100_000)]
        public void RoundTripsThroughItsReaderAndTheRuntimesGZipStream(int size)
        {
            var data = Data(size);
            var gz = Compress(data, workers: 3, blockSize: 4096);
            using (var reader = new GzipMemberReader(new MemoryStream(gz)))
                Assert.Equal(data, ReadAll(reader));
            using (var stock = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress))
                Assert.Equal(data, ReadAll(stock));
        }

        [Fact]
        public void WritesOneMemberPerBlockInInputOrderWhateverTheNumberOfWorkers()
        {
            var data = Data(300_000);
            var one = Compress(data, workers: 1, blockSize: 8192);
            var four = Compress(data, workers: 4, blockSize: 8192, chunk: 3333);
            Assert.Equal(one, four);
            // 37 members, each with its size in the header's extra field.
            int members = 0;
            for (int at = 0; at < one.Length; members++)
            {
                Assert.Equal(0x1f, one[at]);
                Assert.Equal(0x8b, one[at + 1]);
                Assert.Equal(0x04, one[at + 3]);
                Assert.Equal((byte)'P', one[at + 12]);
                Assert.Equal((byte)'G', one[at + 13]);
                at += BitConverter.ToInt32(one, at + 16);
            }
            Assert.Equal((300_000 + 8191) / 8192, members);
            using var reader = new GzipMemberReader(new MemoryStream(one));
            Assert.Equal(data, ReadAll(reader));
        }

        [Fact]
        public void TheGzipToolReadsItAndTheSizeStaysCloseToOneStream()
        {
            var data = Data(3_000_000);
            var file = Path.Combine(_dir, "x.sql.gz");
            File.WriteAllBytes(file, Compress(data, workers: 2, blockSize: ParallelGzipStream.DefaultBlockSize));
            var p = Process.Start(new ProcessStartInfo("gzip", new[] { "-dc", file }) { RedirectStandardOutput = true })!;
            var ms = new MemoryStream();
            p.StandardOutput.BaseStream.CopyTo(ms);
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
            Assert.Equal(data, ms.ToArray());
            var t = Process.Start(new ProcessStartInfo("gzip", new[] { "-t", file }))!;
            t.WaitForExit();
            Assert.Equal(0, t.ExitCode);

            var single = new MemoryStream();
            using (var z = Compression.CreateSingleGzip(single, 6)) z.Write(data, 0, data.Length);
            Assert.True(new FileInfo(file).Length <= single.Length * 1.01, $"{new FileInfo(file).Length} vs {single.Length}");
        }

        [Fact]
        public void TheReaderReadsFilesOfOtherTools()
        {
            // gzip's own kind of file: members without PgBackup's size field, here two of them.
            var a = Data(50_000, 1);
            var b = Data(20_000, 2);
            var file = new MemoryStream();
            foreach (var part in new[] { a, b })
                using (var z = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true)) z.Write(part, 0, part.Length);
            using var reader = new GzipMemberReader(new MemoryStream(file.ToArray()));
            Assert.Equal(a.Concat(b).ToArray(), ReadAll(reader));
        }

        [Fact]
        public void TheReaderRefusesACutOrDamagedFile()
        {
            var gz = Compress(Data(50_000), workers: 2, blockSize: 8192);
            var cut = gz.Take(gz.Length - 100).ToArray();
            using (var reader = new GzipMemberReader(new MemoryStream(cut)))
                Assert.Throws<InvalidDataException>(() => ReadAll(reader));
            var damaged = (byte[])gz.Clone();
            damaged[16] = 0xff; damaged[17] = 0xff; damaged[18] = 0xff; damaged[19] = 0x7f;
            using (var reader = new GzipMemberReader(new MemoryStream(damaged)))
                Assert.Throws<InvalidDataException>(() => ReadAll(reader));
            var flipped = (byte[])gz.Clone();
            flipped[40] ^= 0x55;
            using (var reader = new GzipMemberReader(new MemoryStream(flipped)))
                Assert.ThrowsAny<Exception>(() => ReadAll(reader));
        }

        [Fact]
        public void AFailingNextStageStopsThePumpWithItsError()
        {
            var failing = new FailingStream(20_000);
            var z = new ParallelGzipStream(failing, 6, workers: 2, blockSize: 4096);
            var e = Assert.Throws<IOException>(() => StreamPump.Copy(new MemoryStream(Data(2_000_000)), z, null, CancellationToken.None));
            Assert.Equal("disk full (test)", e.Message);
            long written = failing.Length;
            z.Dispose();
            Assert.Equal(written, failing.Length);
            Assert.Throws<ObjectDisposedException>(() => z.Write(new byte[1], 0, 1));
        }

        [Fact]
        public void AFailingWorkerStopsThePumpWithItsError()
        {
            var target = new MemoryStream();
            var z = new ParallelGzipStream(target, 6, workers: 2, blockSize: 4096)
            {
                BeforeCompress = i => { if (i == 5) throw new InvalidOperationException("worker failed (test)"); },
            };
            var e = Assert.Throws<InvalidOperationException>(() => StreamPump.Copy(new MemoryStream(Data(200_000)), z, null, CancellationToken.None));
            Assert.Equal("worker failed (test)", e.Message);
            long written = target.Length;
            z.Dispose();
            Assert.Equal(written, target.Length);
        }

        [Fact]
        public void AFailureOfTheLastBlockIsReportedByDispose()
        {
            var z = new ParallelGzipStream(new MemoryStream(), 6, workers: 2, blockSize: 4096)
            {
                BeforeCompress = i => throw new InvalidOperationException("last block failed (test)"),
            };
            z.Write(new byte[100], 0, 100);
            Assert.Equal("last block failed (test)", Assert.Throws<InvalidOperationException>(() => z.Dispose()).Message);
            z.Dispose();
        }

        [Fact]
        public void CancellationStopsThePump()
        {
            using var cts = new CancellationTokenSource();
            cts.CancelAfter(300);
            var z = new ParallelGzipStream(new MemoryStream(), 6, workers: 2, blockSize: 4096);
            Assert.ThrowsAny<OperationCanceledException>(() => StreamPump.Copy(new EndlessSource(), z, null, cts.Token));
            z.Dispose();
        }

        [Fact]
        public async Task AtMostOneBlockMoreThanWorkersIsInFlight()
        {
            using var gate = new ManualResetEventSlim(false);
            int started = 0;
            var target = new MemoryStream();
            var z = new ParallelGzipStream(target, 6, workers: 2, blockSize: 4096)
            {
                BeforeCompress = i => { Interlocked.Increment(ref started); gate.Wait(TimeSpan.FromSeconds(30)); },
            };
            var data = Data(4096 * 12);
            var writing = Task.Run(() => z.Write(data, 0, data.Length));
            // Both workers are busy; the writer blocks once 3 blocks are in flight, and has filled a fourth.
            var until = DateTime.UtcNow.AddSeconds(20);
            while (Volatile.Read(ref started) < 2 && DateTime.UtcNow < until) Thread.Sleep(10);
            Assert.NotSame(writing, await Task.WhenAny(writing, Task.Delay(300)));
            Assert.Equal(2, Volatile.Read(ref started));
            Assert.Equal(4 * 4096, z.BytesIn);
            Assert.Equal(0, target.Length);
            gate.Set();
            await writing;
            z.Dispose();
            Assert.Equal(12, started);
            using var reader = new GzipMemberReader(new MemoryStream(target.ToArray()));
            Assert.Equal(data, ReadAll(reader));
        }

        [Fact]
        public void AbortWritesNothingMoreAndStopsTheWorkers()
        {
            var target = new MemoryStream();
            var z = new ParallelGzipStream(target, 6, workers: 2, blockSize: 4096);
            var data = Data(4096 * 3 + 100);
            z.Write(data, 0, data.Length);
            long before = target.Length;
            z.Abort();
            Assert.Equal(before, target.Length);
            Assert.Throws<ObjectDisposedException>(() => z.Write(data, 0, 1));
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

        private sealed class EndlessSource : Stream
        {
            private readonly Random _rnd = new Random(3);
            public override int Read(byte[] buffer, int offset, int count)
            {
                Thread.Sleep(5);
                int n = Math.Min(count, 8192);
                for (int i = 0; i < n; i++) buffer[offset + i] = (byte)_rnd.Next(256);
                return n;
            }
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
