using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// The rename that commits a finished file or folder. On Windows, antivirus scanners, backup agents, search
    /// indexers and Explorer open fresh files for a moment; a rename (or a delete) then fails with a sharing violation
    /// or "access denied" although nothing is wrong. Those are retried for a few seconds before the commit counts as
    /// failed; every other failure, and any failure on Linux and macOS (where an open file does not stop a rename),
    /// fails at once.
    /// </summary>
    public static class FileCommit
    {
        /// <summary>Waits between tries: 50 ms doubling to 1.6 s, about 6 s in all.</summary>
        public static readonly TimeSpan[] Delays =
        {
            TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400),
            TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1600), TimeSpan.FromMilliseconds(1600), TimeSpan.FromMilliseconds(1600),
        };

        private static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        /// <summary>Runs <paramref name="action"/>, retrying what another process holding a file makes fail on Windows.</summary>
        public static void Run(Action action, CancellationToken cancellationToken = default) =>
            Run(action, IsWindows, d => cancellationToken.WaitHandle.WaitOne(d), cancellationToken);

        /// <summary>The retry with the platform and the wait given (the tests give Windows and no wait).</summary>
        public static void Run(Action action, bool windows, Action<TimeSpan> wait, CancellationToken cancellationToken = default)
        {
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    action();
                    return;
                }
                catch (Exception e) when (attempt < Delays.Length && IsTransient(e, windows) && !cancellationToken.IsCancellationRequested)
                {
                    wait(Delays[attempt]);
                }
            }
        }

        /// <summary>
        /// Whether <paramref name="e"/> is what Windows says while another process has the file open:
        /// ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33), ERROR_ACCESS_DENIED (5, also as
        /// UnauthorizedAccessException: a folder with an open file, a file being deleted), ERROR_USER_MAPPED_FILE (1224).
        /// </summary>
        public static bool IsTransient(Exception e, bool windows)
        {
            if (!windows) return false;
            if (e is UnauthorizedAccessException) return true;
            if (e is IOException io && !(e is FileNotFoundException) && !(e is DirectoryNotFoundException))
            {
                int code = io.HResult & 0xFFFF;
                return code == 32 || code == 33 || code == 5 || code == 1224;
            }
            return false;
        }

        /// <summary>Deletes a file if it is there, ignoring what cleanup may ignore (in use, access denied, gone).</summary>
        public static void TryDeleteFile(string path)
        {
            try { File.Delete(path); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
        }

        /// <summary>Deletes a folder and its contents if there, ignoring what cleanup may ignore.</summary>
        public static void TryDeleteDirectory(string path)
        {
            try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
        }
    }
}
