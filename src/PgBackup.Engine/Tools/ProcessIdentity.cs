using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;

namespace PgBackup
{
    /// <summary>Whether the process that made something is still running.</summary>
    public enum ProcessLiveness
    {
        /// <summary>It runs on this machine: the same process id, started at the same moment.</summary>
        Running,
        /// <summary>It ran on this machine and has ended (its id is free, or taken by a process started later).</summary>
        Gone,
        /// <summary>It ran on another machine, or this machine cannot say.</summary>
        Unknown,
    }

    /// <summary>
    /// Names a process so that it can be recognised later, also from another process: host, id and a start key. A
    /// process id alone is reused; together with the moment the process started it is not.
    /// </summary>
    public static class ProcessIdentity
    {
        /// <summary>The start key of a process that has ended but that its parent has not reaped yet (a zombie): never a match.</summary>
        private const string Ended = "ended";

        private static readonly Lazy<(int Id, DateTime StartUtc, string StartKey)> Self = new Lazy<(int, DateTime, string)>(() =>
        {
            using var me = Process.GetCurrentProcess();
            return (me.Id, me.StartTime.ToUniversalTime(), StartKeyOf(me) ?? "");
        });

        public static string Host => Environment.MachineName;
        public static int Id => Self.Value.Id;
        public static DateTime StartUtc => Self.Value.StartUtc;
        /// <summary>This process's start key (see <see cref="StartKeyOf(Process)"/>).</summary>
        public static string StartKey => Self.Value.StartKey;

        /// <summary>Whether the process <paramref name="id"/> with <paramref name="startKey"/> still runs, when it ran on <paramref name="host"/>.</summary>
        public static ProcessLiveness Check(string host, int id, string startKey)
        {
            if (!string.Equals(host, Host, StringComparison.OrdinalIgnoreCase) || id <= 0 || startKey.Length == 0) return ProcessLiveness.Unknown;
            Process p;
            try { p = Process.GetProcessById(id); }
            catch (ArgumentException) { return ProcessLiveness.Gone; }
            catch (InvalidOperationException) { return ProcessLiveness.Gone; }
            using (p)
            {
                var key = StartKeyOf(p);
                if (key is null) return ProcessLiveness.Unknown;
                return string.Equals(key, startKey, StringComparison.Ordinal) ? ProcessLiveness.Running : ProcessLiveness.Gone;
            }
        }

        /// <summary>
        /// When a process started, in a form that never changes while it runs: on Linux the boot's id and the start in
        /// clock ticks since boot (/proc), because .NET's StartTime there is worked out again from the wall clock on every
        /// call and moves when the clock is set; elsewhere (Windows, macOS keep a fixed start time) StartTime's ticks.
        /// Null when it cannot be read (another user's process on Windows, a process that just ended).
        /// </summary>
        internal static string? StartKeyOf(Process p)
        {
            try
            {
                var stat = "/proc/" + p.Id.ToString(CultureInfo.InvariantCulture) + "/stat";
                if (File.Exists("/proc/sys/kernel/random/boot_id"))
                {
                    var (ticks, ended) = LinuxStart(File.ReadAllText(stat));
                    if (ended) return Ended;
                    return ticks is null ? null : File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim() + ":" + ticks;
                }
                return p.StartTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidOperationException || e is System.ComponentModel.Win32Exception || e is NotSupportedException)
            {
                return null;
            }
        }

        /// <summary>
        /// Field 22 of /proc/&lt;pid&gt;/stat (starttime), counted after the command name, which may hold spaces and
        /// parentheses; and whether the process has ended (state Z or X: killed, its parent has not reaped it yet).
        /// </summary>
        internal static (string? Ticks, bool Ended) LinuxStart(string stat)
        {
            int close = stat.LastIndexOf(')');
            if (close < 0) return (null, false);
            var fields = stat.Substring(close + 1).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            // After the name come field 3 (state) onwards: starttime, field 22, is the 20th.
            bool ended = fields.Length > 0 && (fields[0] == "Z" || fields[0] == "X");
            return (fields.Length > 19 ? fields[19] : null, ended);
        }
    }
}
