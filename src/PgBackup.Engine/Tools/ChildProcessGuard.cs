using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;

namespace PgBackup
{
    /// <summary>
    /// Ends PgBackup's child processes (pg_dump, pg_dumpall, pg_restore) when PgBackup's own process ends, however it
    /// ends: also after kill -9 (a scheduler's time limit, Azure Automation's fair share, an out-of-memory kill), when
    /// none of PgBackup's code runs any more to stop them. Windows: a job object that kills its processes when it closes
    /// (<see cref="JobObjectGuard"/>); Linux and macOS: a watchdog beside the children (<see cref="WatchdogGuard"/>).
    /// Guarding never stops a child from starting: what fails is kept in <see cref="Problem"/>.
    /// </summary>
    internal abstract class ChildProcessGuard
    {
        /// <summary>The guard of this process.</summary>
        public static ChildProcessGuard Current { get; } = For(RuntimeInformation.IsOSPlatform(OSPlatform.Windows), new Kernel32JobObjects());

        /// <summary>The decision: a job object on Windows, the watchdog elsewhere.</summary>
        internal static ChildProcessGuard For(bool windows, IJobObjectApi jobObjects) =>
            windows ? new JobObjectGuard(jobObjects) : new WatchdogGuard();

        /// <summary>The last thing that went wrong while guarding (null when nothing did).</summary>
        public string? Problem { get; protected set; }

        /// <summary>Binds a child that has just started to this process's life.</summary>
        public abstract void Adopt(Process child);

        /// <summary>The child has ended (and was waited for): nothing to end any more.</summary>
        public abstract void Release(Process child);
    }

    /// <summary>
    /// Linux and macOS. One watchdog, a small <c>sh</c>, runs beside the children while any runs; its standard input is a
    /// pipe from this process, on which each child's id is written when it starts (<c>+ id</c>) and when it has ended
    /// (<c>- id</c>). When this process dies, however it dies, the kernel closes its end of the pipe: the watchdog's
    /// <c>read</c> returns end-of-file at once, and it sends SIGTERM to the children still listed, then SIGKILL to those
    /// still there after the grace period. SIGTERM first, because pg_dump and pg_restore catch it: they cancel their
    /// queries on the server (so a CREATE INDEX or a lock wait ends there too) and stop their parallel workers, which a
    /// SIGKILL of the leader leaves running until they next read from it.
    /// <para>
    /// Not PR_SET_PDEATHSIG (<c>setpriv --pdeathsig</c>): it fires when the thread that forked the child ends, and .NET
    /// forks on whatever thread calls Process.Start (a cmdlet's worker thread, a pool thread), so children would die with
    /// that thread, long before the job; and it is Linux only. Not a loop that polls the parent's id: it notices a death
    /// only at its next poll, and the id may be reused. The pipe's end in this process is close-on-exec (.NET opens
    /// pipes so), so no other child inherits it and keeps the watchdog waiting; the watchdog ignores SIGINT and SIGHUP
    /// (Ctrl+C in a terminal reaches the whole process group, and PowerShell survives it). A child that ends between
    /// being reaped and being listed as ended, while this process is killed, is the one case left: its id could be
    /// reused within the grace period.
    /// </para>
    /// </summary>
    internal sealed class WatchdogGuard : ChildProcessGuard
    {
        internal const string Script = @"exec >/dev/null 2>&1
trap '' INT HUP
pids=' '
while read -r op pid; do
  case $op in
    +) pids=""$pids$pid "" ;;
    -) case $pids in *"" $pid ""*) pids=""${pids%% $pid *} ${pids#* $pid }"" ;; esac ;;
  esac
done
case $pids in *[0-9]*) ;; *) exit 0 ;; esac
kill -TERM $pids
n=0
while [ $n -lt ""$1"" ]; do
  alive=
  for p in $pids; do kill -0 ""$p"" && alive=1; done
  [ -z ""$alive"" ] && exit 0
  sleep 0.1
  n=$((n + 1))
done
kill -KILL $pids
";

        private readonly object _gate = new object();
        private readonly HashSet<int> _children = new HashSet<int>();
        private readonly int _graceTenths;
        private Process? _watchdog;

        /// <param name="graceSeconds">How long children have after SIGTERM before SIGKILL.</param>
        internal WatchdogGuard(double graceSeconds = 5) { _graceTenths = (int)Math.Ceiling(graceSeconds * 10); }

        /// <summary>The watchdog's process id while one runs (tests).</summary>
        internal int? WatchdogId { get { lock (_gate) return _watchdog?.Id; } }

        public override void Adopt(Process child) => Adopt(child.Id);

        public override void Release(Process child) => Release(child.Id);

        internal void Adopt(int id)
        {
            lock (_gate)
            {
                if (_children.Add(id)) Send("+ " + id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        internal void Release(int id)
        {
            lock (_gate)
            {
                if (!_children.Remove(id)) return;
                Send("- " + id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                // With nothing to guard, no watchdog: closing its input ends it, with no one left to signal.
                if (_children.Count == 0) Close();
            }
        }

        /// <summary>What the kernel does when this process dies: the pipe closes with the children still listed (tests).</summary>
        internal void CloseAsIfDead()
        {
            lock (_gate)
            {
                Close();
                _children.Clear();
            }
        }

        private void Send(string line)
        {
            for (int attempt = 1; attempt <= 2; attempt++)
            {
                try
                {
                    if (_watchdog is null)
                    {
                        // A new watchdog (the first child, or the last one died): it learns every child listed now.
                        if (_children.Count == 0) return;
                        _watchdog = StartWatchdog();
                        foreach (var id in _children) Write("+ " + id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        return;
                    }
                    Write(line);
                    return;
                }
                catch (Exception e) when (e is IOException || e is Win32Exception || e is InvalidOperationException || e is ObjectDisposedException)
                {
                    Problem = $"The watchdog that ends child processes with this one failed: {e.Message}";
                    Close();
                }
            }
        }

        private void Write(string line) => _watchdog!.StandardInput.Write(line + "\n");

        private Process StartWatchdog()
        {
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true, CreateNoWindow = true };
            var args = new[] { "-c", Script, "pgbackup-watchdog", _graceTenths.ToString(System.Globalization.CultureInfo.InvariantCulture) };
#if NETSTANDARD2_0
            psi.Arguments = CommandLine.Join(args);
#else
            foreach (var a in args) psi.ArgumentList.Add(a);
#endif
            var p = Process.Start(psi) ?? throw new InvalidOperationException("/bin/sh did not start.");
            p.StandardInput.AutoFlush = true;
            return p;
        }

        private void Close()
        {
            if (_watchdog is null) return;
            try { _watchdog.StandardInput.Dispose(); } catch (IOException) { }
            _watchdog.Dispose();
            _watchdog = null;
        }
    }

    /// <summary>
    /// Windows. Each child goes into one job object of this process's, made with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and
    /// never closed: when this process ends, however it ends, Windows closes its handles, the job's last handle with
    /// them, and ends every process in the job, the children's own children included. The handle is not inheritable,
    /// so no child holds the job open. A child is added right after it starts (.NET cannot start it suspended): a child
    /// that started a process of its own in that instant would leave that one outside; pg_dump and pg_restore do not.
    /// Nested jobs (a task that Task Scheduler already runs in a job) need Windows 8 or later.
    /// </summary>
    internal sealed class JobObjectGuard : ChildProcessGuard
    {
        internal const int JobObjectExtendedLimitInformation = 9;
        internal const uint JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000;

        private readonly IJobObjectApi _api;
        private readonly object _gate = new object();
        private IntPtr _job;
        private bool _unavailable;

        internal JobObjectGuard(IJobObjectApi api) { _api = api; }

        public override void Adopt(Process child)
        {
            try { Adopt(child.Handle); }
            catch (Exception e) when (e is InvalidOperationException || e is Win32Exception) { Problem = $"No handle for process {child.Id}: {e.Message}"; }
        }

        /// <summary>A child leaves its job when it ends.</summary>
        public override void Release(Process child) { }

        internal void Adopt(IntPtr process)
        {
            lock (_gate)
            {
                if (_job == IntPtr.Zero && !_unavailable) _job = CreateKillOnCloseJob();
                if (_job == IntPtr.Zero) return;
                if (!_api.AssignProcessToJobObject(_job, process))
                    Problem = $"AssignProcessToJobObject failed (Windows error {_api.LastError()}): this child is not ended with PgBackup's process.";
            }
        }

        private IntPtr CreateKillOnCloseJob()
        {
            var job = _api.CreateJobObject();
            if (job == IntPtr.Zero)
            {
                _unavailable = true;
                Problem = $"CreateJobObject failed (Windows error {_api.LastError()}): child processes are not ended with PgBackup's process.";
                return IntPtr.Zero;
            }
            var info = new JOBOBJECT_EXTENDED_LIMIT_INFORMATION { BasicLimitInformation = { LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE } };
            int size = Marshal.SizeOf(typeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION));
            var buffer = Marshal.AllocHGlobal(size);
            try
            {
                Marshal.StructureToPtr(info, buffer, false);
                if (_api.SetInformationJobObject(job, JobObjectExtendedLimitInformation, buffer, (uint)size)) return job;
                Problem = $"SetInformationJobObject failed (Windows error {_api.LastError()}): child processes are not ended with PgBackup's process.";
            }
            finally { Marshal.FreeHGlobal(buffer); }
            _unavailable = true;
            _api.CloseHandle(job);
            return IntPtr.Zero;
        }
    }

    /// <summary>The Win32 job object functions PgBackup uses: the seam the tests put a recording fake behind.</summary>
    internal interface IJobObjectApi
    {
        /// <summary>CreateJobObjectW(NULL, NULL): an unnamed job with a handle that is not inherited; zero on failure.</summary>
        IntPtr CreateJobObject();
        bool SetInformationJobObject(IntPtr job, int infoClass, IntPtr info, uint length);
        bool AssignProcessToJobObject(IntPtr job, IntPtr process);
        bool CloseHandle(IntPtr handle);
        /// <summary>The error code of the last call that failed (GetLastError).</summary>
        int LastError();
    }

    internal sealed class Kernel32JobObjects : IJobObjectApi
    {
        public IntPtr CreateJobObject() => NativeMethods.CreateJobObjectW(IntPtr.Zero, null);
        public bool SetInformationJobObject(IntPtr job, int infoClass, IntPtr info, uint length) => NativeMethods.SetInformationJobObject(job, infoClass, info, length);
        public bool AssignProcessToJobObject(IntPtr job, IntPtr process) => NativeMethods.AssignProcessToJobObject(job, process);
        public bool CloseHandle(IntPtr handle) => NativeMethods.CloseHandle(handle);
        public int LastError() => Marshal.GetLastWin32Error();

        private static class NativeMethods
        {
            [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
            public static extern IntPtr CreateJobObjectW(IntPtr jobAttributes, string? name);

            [DllImport("kernel32.dll", SetLastError = true)]
            [return: MarshalAs(UnmanagedType.Bool)]
            public static extern bool SetInformationJobObject(IntPtr job, int infoClass, IntPtr info, uint length);

            [DllImport("kernel32.dll", SetLastError = true)]
            [return: MarshalAs(UnmanagedType.Bool)]
            public static extern bool AssignProcessToJobObject(IntPtr job, IntPtr process);

            [DllImport("kernel32.dll", SetLastError = true)]
            [return: MarshalAs(UnmanagedType.Bool)]
            public static extern bool CloseHandle(IntPtr handle);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct JOBOBJECT_BASIC_LIMIT_INFORMATION
    {
        public long PerProcessUserTimeLimit;
        public long PerJobUserTimeLimit;
        public uint LimitFlags;
        public UIntPtr MinimumWorkingSetSize;
        public UIntPtr MaximumWorkingSetSize;
        public uint ActiveProcessLimit;
        public UIntPtr Affinity;
        public uint PriorityClass;
        public uint SchedulingClass;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct IO_COUNTERS
    {
        public ulong ReadOperationCount;
        public ulong WriteOperationCount;
        public ulong OtherOperationCount;
        public ulong ReadTransferCount;
        public ulong WriteTransferCount;
        public ulong OtherTransferCount;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    {
        public JOBOBJECT_BASIC_LIMIT_INFORMATION BasicLimitInformation;
        public IO_COUNTERS IoInfo;
        public UIntPtr ProcessMemoryLimit;
        public UIntPtr JobMemoryLimit;
        public UIntPtr PeakProcessMemoryUsed;
        public UIntPtr PeakJobMemoryUsed;
    }
}
