using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// Child processes end with PgBackup's process. The watchdog (Linux, macOS) runs for real here: closing its pipe is
    /// what the kernel does when PgBackup's process is killed (the Pester tests kill -9 a PowerShell for real, see
    /// Interrupted.Tests.ps1). The Windows job object is exercised through its seam, with Windows-shaped handles, structs
    /// and error codes recorded by a fake kernel32.
    /// </summary>
    public sealed class ChildProcessGuardTests
    {
        private sealed class FakeKernel32 : IJobObjectApi
        {
            public readonly IntPtr Job = new IntPtr(0x1A4);
            public readonly List<string> Calls = new List<string>();
            public bool CreateFails, SetFails, AssignFails;
            public uint LimitFlags;
            public int InfoLength;

            public IntPtr CreateJobObject() { Calls.Add("CreateJobObject"); return CreateFails ? IntPtr.Zero : Job; }

            public bool SetInformationJobObject(IntPtr job, int infoClass, IntPtr info, uint length)
            {
                Calls.Add($"SetInformationJobObject({job:X},{infoClass})");
                InfoLength = (int)length;
                // JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags, as kernel32 reads it: after two LARGE_INTEGERs.
                LimitFlags = (uint)Marshal.ReadInt32(info, 16);
                return !SetFails;
            }

            public bool AssignProcessToJobObject(IntPtr job, IntPtr process) { Calls.Add($"AssignProcessToJobObject({job:X},{process:X})"); return !AssignFails; }
            public bool CloseHandle(IntPtr handle) { Calls.Add($"CloseHandle({handle:X})"); return true; }
            public int LastError() => 5; // ERROR_ACCESS_DENIED
        }

        [Fact]
        public void WindowsGetsAJobObjectEverythingElseTheWatchdog()
        {
            var api = new FakeKernel32();
            Assert.IsType<JobObjectGuard>(ChildProcessGuard.For(windows: true, api));
            Assert.IsType<WatchdogGuard>(ChildProcessGuard.For(windows: false, api));
            Assert.Empty(api.Calls);
            Assert.Equal(RuntimeInformation.IsOSPlatform(OSPlatform.Windows), ChildProcessGuard.Current is JobObjectGuard);
        }

        [Fact]
        public void EveryChildGoesIntoOneKillOnCloseJobThatStaysOpen()
        {
            var api = new FakeKernel32();
            var guard = new JobObjectGuard(api);
            guard.Adopt(new IntPtr(0x2B8));
            guard.Adopt(new IntPtr(0x2C0));
            Assert.Equal(new[] { "CreateJobObject", "SetInformationJobObject(1A4,9)", "AssignProcessToJobObject(1A4,2B8)", "AssignProcessToJobObject(1A4,2C0)" }, api.Calls);
            Assert.Equal(JobObjectGuard.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, api.LimitFlags);
            Assert.Equal(IntPtr.Size == 8 ? 144 : 112, api.InfoLength);
            Assert.Null(guard.Problem);
        }

        [Fact]
        public void TheStructsHaveWindowsLayout()
        {
            Assert.Equal(IntPtr.Size == 8 ? 144 : 112, Marshal.SizeOf<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>());
            Assert.Equal(IntPtr.Size == 8 ? 64 : 48, Marshal.SizeOf<JOBOBJECT_BASIC_LIMIT_INFORMATION>());
            Assert.Equal(16, (int)Marshal.OffsetOf<JOBOBJECT_BASIC_LIMIT_INFORMATION>(nameof(JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags)));
            Assert.Equal(48, Marshal.SizeOf<IO_COUNTERS>());
        }

        [Fact]
        public void AFailingJobObjectNeverStopsAChild()
        {
            var noJob = new FakeKernel32 { CreateFails = true };
            var guard = new JobObjectGuard(noJob);
            guard.Adopt(new IntPtr(0x2B8));
            guard.Adopt(new IntPtr(0x2C0));
            Assert.Equal(new[] { "CreateJobObject" }, noJob.Calls); // not tried again for every child
            Assert.Contains("Windows error 5", guard.Problem);

            var noLimit = new FakeKernel32 { SetFails = true };
            guard = new JobObjectGuard(noLimit);
            guard.Adopt(new IntPtr(0x2B8));
            Assert.Equal(new[] { "CreateJobObject", "SetInformationJobObject(1A4,9)", "CloseHandle(1A4)" }, noLimit.Calls);
            Assert.Contains("SetInformationJobObject failed", guard.Problem);

            var nested = new FakeKernel32 { AssignFails = true }; // a job that forbids nesting (Windows 7)
            guard = new JobObjectGuard(nested);
            guard.Adopt(new IntPtr(0x2B8));
            Assert.Contains("AssignProcessToJobObject failed (Windows error 5)", guard.Problem);
            Assert.DoesNotContain(nested.Calls, c => c.StartsWith("CloseHandle", StringComparison.Ordinal));
        }

        private static Process Start(string script) =>
            Process.Start(new ProcessStartInfo("/bin/sh", new[] { "-c", script }) { UseShellExecute = false })!;

        [Fact]
        public void WhenThisProcessDiesTheWatchdogEndsTheChildrenStillListed()
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            var guard = new WatchdogGuard(graceSeconds: 1);
            using var listed = Start("exec sleep 60");
            using var stubborn = Start("trap '' TERM; while :; do sleep 0.1; done");
            using var released = Start("exec sleep 60");
            guard.Adopt(listed.Id);
            guard.Adopt(stubborn.Id);
            guard.Adopt(released.Id);
            var watchdog = Process.GetProcessById(guard.WatchdogId!.Value);
            guard.Release(released.Id);
            System.Threading.Thread.Sleep(200); // the watchdog reads its lines

            var clock = Stopwatch.StartNew();
            guard.CloseAsIfDead();
            Assert.True(listed.WaitForExit(3000), "SIGTERM ends a child at once");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), clock.Elapsed.ToString());
            Assert.True(stubborn.WaitForExit(5000), "SIGKILL after the grace period ends one that ignores SIGTERM");
            Assert.Equal(128 + 9, stubborn.ExitCode);
            Assert.True(watchdog.WaitForExit(3000), "the watchdog ends when its work is done");
            Assert.False(released.HasExited, "a child listed as ended is left alone");
            released.Kill();
        }

        [Fact]
        public void NoWatchdogRunsWhileNoChildDoesAndTheLastOneIsNotSignalled()
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            var guard = new WatchdogGuard();
            Assert.Null(guard.WatchdogId);
            // Listed as ended while it still runs: what a reused process id would look like to the watchdog.
            using var child = Start("exec sleep 60");
            guard.Adopt(child.Id);
            var watchdog = Process.GetProcessById(guard.WatchdogId!.Value);
            guard.Release(child.Id);
            Assert.Null(guard.WatchdogId);
            Assert.True(watchdog.WaitForExit(3000));
            Assert.False(child.WaitForExit(500), "the watchdog signals no process that was listed as ended");
            Assert.Null(guard.Problem);
            child.Kill();
        }

        [Fact]
        public void AWatchdogThatWasKilledIsStartedAgainWithEveryChild()
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            var guard = new WatchdogGuard(graceSeconds: 1);
            using var first = Start("exec sleep 60");
            using var second = Start("exec sleep 60");
            guard.Adopt(first.Id);
            var old = Process.GetProcessById(guard.WatchdogId!.Value);
            old.Kill();
            old.WaitForExit();
            guard.Adopt(second.Id); // the write fails: a new watchdog learns both
            Assert.NotEqual(old.Id, guard.WatchdogId);
            System.Threading.Thread.Sleep(200);
            guard.CloseAsIfDead();
            Assert.True(first.WaitForExit(3000));
            Assert.True(second.WaitForExit(3000));
        }
    }
}
