using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>Tests that change process-wide state (the trimmer's timer, an environment variable) run alone.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class ProcessWideCollection
    {
        public const string Name = "process-wide state";
    }

    /// <summary>
    /// The C heap trimming that runs beside every stream (<see cref="NativeHeapTrimmer"/>), against this machine's
    /// real glibc: the tests run on Linux (CI is Debian 12).
    /// </summary>
    [Collection(ProcessWideCollection.Name)]
    public class NativeHeapTrimmerTests
    {
        private static readonly bool Linux = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        private static long RssAnonBytes()
        {
            var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
            return long.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }

        [Fact]
        public void IsSupportedWithGlibc()
        {
            if (!Linux) return;
            Assert.True(NativeHeapTrimmer.IsSupported, "glibc's malloc_trim was not found");
        }

        [Fact]
        public void TrimReturnsFreedHeapPagesThatGlibcKeeps()
        {
            if (!Linux) return;
            // Holes in the heap: 40 MiB in 64 KiB blocks (below glibc's mmap threshold, so from a heap), every 16th kept
            // (so the freed runs are never at a heap's top, from where glibc would give them back by itself).
            const int block = 64 << 10, count = 640;
            var blocks = new List<IntPtr>();
            var kept = new List<IntPtr>();
            try
            {
                // On a thread of its own: its own malloc arena, which nothing else in the process allocates from.
                long allocated = 0, freed = 0, trimmed = 0, trimsBefore = 0, trimsBetween = 0;
                var thread = new Thread(() =>
                {
                    for (int i = 0; i < count; i++)
                    {
                        var p = Marshal.AllocHGlobal(block);
                        for (int o = 0; o < block; o += 4096) Marshal.WriteByte(p, o, 1);
                        blocks.Add(p);
                    }
                    allocated = RssAnonBytes();
                    trimsBefore = NativeHeapTrimmer.Trims;
                    for (int i = 0; i < count; i++)
                    {
                        if (i % 16 == 15) kept.Add(blocks[i]);
                        else Marshal.FreeHGlobal(blocks[i]);
                    }
                    blocks.Clear();
                    freed = RssAnonBytes();
                    trimsBetween = NativeHeapTrimmer.Trims;
                    NativeHeapTrimmer.Trim();
                    trimmed = RssAnonBytes();
                });
                thread.Start();
                thread.Join();

                long freedBytes = (long)count * 15 / 16 * block; // 37.5 MiB
                // glibc kept the freed blocks resident (unless a trim ran meanwhile)...
                if (trimsBetween == trimsBefore)
                    Assert.True(allocated - freed < freedBytes / 4, $"freeing gave back {(allocated - freed) >> 20} MiB by itself");
                // ...and the trim gave them back.
                Assert.True(allocated - trimmed > freedBytes / 2, $"the trim gave back {(allocated - trimmed) >> 20} of {freedBytes >> 20} MiB freed (RssAnon {allocated >> 20} -> {freed >> 20} -> {trimmed >> 20} MiB)");
            }
            finally
            {
                foreach (var p in blocks.Concat(kept)) Marshal.FreeHGlobal(p);
            }
        }

        [Fact]
        public void ScopesShareOneTimerThatTrimsUntilTheLastEnds()
        {
            if (!Linux) return;
            Assert.False(NativeHeapTrimmer.IsRunning);
            long before = NativeHeapTrimmer.Trims;
            var first = NativeHeapTrimmer.Start();
            var second = NativeHeapTrimmer.Start();
            Assert.True(NativeHeapTrimmer.IsRunning);

            // The first trim is immediate; the next a second later.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (NativeHeapTrimmer.Trims < before + 2 && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.True(NativeHeapTrimmer.Trims >= before + 2, $"{NativeHeapTrimmer.Trims - before} trims in 10 s");

            first.Dispose();
            first.Dispose(); // twice: still one scope ended
            Assert.True(NativeHeapTrimmer.IsRunning);
            second.Dispose();
            Assert.False(NativeHeapTrimmer.IsRunning);
        }

        [Fact]
        public void TheStreamPumpTrimsWhileItCopies()
        {
            if (!Linux) return;
            bool runningDuringCopy = false;
            var source = new CallbackStream(new byte[3 << 20], () => runningDuringCopy |= NativeHeapTrimmer.IsRunning);
            long copied = StreamPump.Copy(source, Stream.Null, null, CancellationToken.None);
            Assert.Equal(3 << 20, copied);
            Assert.True(runningDuringCopy);
            Assert.False(NativeHeapTrimmer.IsRunning);
        }

        /// <summary>A memory stream that calls back on every read.</summary>
        private sealed class CallbackStream : MemoryStream
        {
            private readonly Action _onRead;
            public CallbackStream(byte[] data, Action onRead) : base(data) { _onRead = onRead; }
            public override int Read(byte[] buffer, int offset, int count) { _onRead(); return base.Read(buffer, offset, count); }
        }

        [Fact]
        public void TheEnvironmentVariableTurnsItOff()
        {
            if (!Linux) return;
            Environment.SetEnvironmentVariable(NativeHeapTrimmer.DisableVariable, "0");
            try
            {
                using (NativeHeapTrimmer.Start()) Assert.False(NativeHeapTrimmer.IsRunning);
            }
            finally
            {
                Environment.SetEnvironmentVariable(NativeHeapTrimmer.DisableVariable, null);
            }
            using (NativeHeapTrimmer.Start()) Assert.True(NativeHeapTrimmer.IsRunning);
            Assert.False(NativeHeapTrimmer.IsRunning);
        }
    }
}
