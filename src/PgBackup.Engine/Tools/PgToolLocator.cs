using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace PgBackup
{
    /// <summary>A PostgreSQL client program found on this machine.</summary>
    public sealed class PgTool
    {
        public PgTool(string name, string path, PgVersion version)
        {
            Name = name;
            Path = path;
            Version = version;
        }

        public string Name { get; }
        public string Path { get; }
        public PgVersion Version { get; }
        public override string ToString() => $"{Name} {Version} ({Path})";
    }

    /// <summary>
    /// Finds pg_dump, pg_restore, psql and pg_dumpall whose major version is high enough: first in
    /// <c>-PgBinPath</c>, then on PATH (on Windows, entries may be quoted), then in the usual install folders
    /// (Debian/Ubuntu, RHEL, Homebrew, Postgres.app; on Windows, every install the EDB installer registered under
    /// HKLM\SOFTWARE\PostgreSQL\Installations, wherever it is, and Program Files), lowest fitting version first among
    /// the install folders.
    /// </summary>
    public sealed class PgToolLocator
    {
        private static readonly ConcurrentDictionary<string, (DateTime Stamp, PgVersion? Version)> VersionCache =
            new ConcurrentDictionary<string, (DateTime, PgVersion?)>(StringComparer.Ordinal);

        private readonly string? _explicitBinPath;
        private readonly Func<IEnumerable<string>> _pathDirs;
        private readonly Func<IEnumerable<string>> _installDirs;

        public PgToolLocator(string? explicitBinPath = null)
            : this(explicitBinPath, DefaultPathDirs, DefaultInstallDirs) { }

        internal PgToolLocator(string? explicitBinPath, Func<IEnumerable<string>> pathDirs, Func<IEnumerable<string>> installDirs)
        {
            _explicitBinPath = string.IsNullOrEmpty(explicitBinPath) ? null : explicitBinPath;
            _pathDirs = pathDirs;
            _installDirs = installDirs;
        }

        private static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        public static string ExecutableName(string tool) => IsWindows ? tool + ".exe" : tool;

        /// <summary>Every candidate of <paramref name="tool"/>, in search order, with its version.</summary>
        public IReadOnlyList<PgTool> FindAll(string tool)
        {
            var seen = new HashSet<string>(IsWindows ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
            var result = new List<PgTool>();
            void Consider(string dir)
            {
                if (string.IsNullOrEmpty(dir)) return;
                string path;
                try { path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, ExecutableName(tool))); }
                catch (ArgumentException) { return; }
                if (!File.Exists(path) || !seen.Add(path) || IsDebianWrapper(path)) return;
                var version = ProbeVersion(path);
                if (version is not null) result.Add(new PgTool(tool, path, version.Value));
            }

            if (_explicitBinPath is not null) Consider(_explicitBinPath);
            foreach (var dir in _pathDirs()) Consider(dir);
            int before = result.Count;
            foreach (var dir in _installDirs()) Consider(dir);
            // Among install folders, the lowest version first: the closest fit to the server wins.
            var fromInstall = result.Skip(before).OrderBy(t => t.Version).ToList();
            result.RemoveRange(before, result.Count - before);
            result.AddRange(fromInstall);
            return result;
        }

        /// <summary>
        /// The first <paramref name="tool"/> in search order whose major version is at least <paramref name="minMajor"/>;
        /// otherwise a <see cref="PgBackupException"/> that names the version needed and what was found.
        /// </summary>
        public PgTool Find(string tool, int minMajor, string why)
        {
            var all = FindAll(tool);
            var fit = all.FirstOrDefault(t => t.Version.Major >= minMajor);
            if (fit is not null) return fit;
            var install = $"Install the PostgreSQL {minMajor} client tools (Debian/Ubuntu: apt-get install postgresql-client-{minMajor}; Windows: the EDB installer) or pass -PgBinPath.";
            if (all.Count == 0)
                throw new PgBackupException(ErrorIds.PgToolNotFound, ErrorKind.NotInstalled,
                    $"{tool} was not found ({why}; version {minMajor} or newer is needed). Looked in {Describe()}.", tool)
                { RecommendedAction = install };
            throw new PgBackupException(ErrorIds.PgToolTooOld, ErrorKind.NotInstalled,
                $"{tool} {minMajor} or newer is needed ({why}), but only these were found: {string.Join("; ", all.Select(t => $"{t.Version} at {t.Path}"))}.", tool)
            { RecommendedAction = install };
        }

        private string Describe()
        {
            var parts = new List<string>();
            if (_explicitBinPath is not null) parts.Add($"-PgBinPath '{_explicitBinPath}'");
            parts.Add("PATH");
            parts.Add(IsWindows ? @"the installs registered under HKLM\SOFTWARE\PostgreSQL\Installations, C:\Program Files\PostgreSQL\<N>\bin" : "/usr/lib/postgresql/<N>/bin, /usr/pgsql-<N>/bin and Homebrew");
            return string.Join(", ", parts);
        }

        private static IEnumerable<string> DefaultPathDirs() => SplitPath(Environment.GetEnvironmentVariable("PATH"), IsWindows);

        /// <summary>
        /// PATH's folders. On Windows an entry may be quoted (<c>"C:\Program Files\PostgreSQL\16\bin"</c>, needed
        /// when it holds a <c>;</c>), as cmd.exe and Windows' own search accept: quotes group and are removed.
        /// </summary>
        internal static IReadOnlyList<string> SplitPath(string? value, bool windows)
        {
            var dirs = new List<string>();
            if (string.IsNullOrEmpty(value)) return dirs;
            if (!windows) return value!.Split(':').Where(d => d.Length > 0).ToList();
            var sb = new StringBuilder();
            bool quoted = false;
            foreach (char c in value!)
            {
                if (c == '"') quoted = !quoted;
                else if (c == ';' && !quoted) { Add(); }
                else sb.Append(c);
            }
            Add();
            return dirs;

            void Add()
            {
                var d = sb.ToString().Trim();
                sb.Clear();
                if (d.Length > 0) dirs.Add(d);
            }
        }

        /// <summary>The EDB installer's registration of each install: <c>HKLM\SOFTWARE\PostgreSQL\Installations\&lt;id&gt;</c>, value "Base Directory" (also the 32-bit view's).</summary>
        internal static IReadOnlyList<string> RegisteredInstallDirs(IRegistryReader registry)
        {
            var dirs = new List<string>();
            foreach (var root in new[] { @"SOFTWARE\PostgreSQL\Installations", @"SOFTWARE\WOW6432Node\PostgreSQL\Installations" })
                foreach (var id in registry.SubKeyNames(root))
                {
                    var baseDir = registry.GetString(root + "\\" + id, "Base Directory");
                    if (string.IsNullOrWhiteSpace(baseDir)) continue;
                    try { dirs.Add(System.IO.Path.Combine(baseDir!.Trim().Trim('"'), "bin")); }
                    catch (ArgumentException) { }
                }
            return dirs;
        }

        private static IEnumerable<string> DefaultInstallDirs()
        {
            var dirs = new List<string>();
            void AddVersionDirs(string parent, string pattern, string suffix)
            {
                try
                {
                    if (!Directory.Exists(parent)) return;
                    foreach (var d in Directory.GetDirectories(parent, pattern)) dirs.Add(System.IO.Path.Combine(d, suffix));
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
            }

            if (IsWindows)
            {
                dirs.AddRange(RegisteredInstallDirs(LocalMachineRegistry.Instance));
                foreach (var pf in new[] { Environment.GetEnvironmentVariable("ProgramFiles"), Environment.GetEnvironmentVariable("ProgramFiles(x86)"), @"C:\Program Files" })
                    if (!string.IsNullOrEmpty(pf)) AddVersionDirs(System.IO.Path.Combine(pf!, "PostgreSQL"), "*", "bin");
            }
            else
            {
                AddVersionDirs("/usr/lib/postgresql", "*", "bin");
                AddVersionDirs("/usr", "pgsql-*", "bin");
                AddVersionDirs("/opt/homebrew/opt", "postgresql@*", "bin");
                AddVersionDirs("/usr/local/opt", "postgresql@*", "bin");
                AddVersionDirs("/Applications/Postgres.app/Contents/Versions", "*", "bin");
                dirs.Add("/opt/homebrew/bin");
                dirs.Add("/usr/local/bin");
            }
            return dirs;
        }

        /// <summary>
        /// Debian's /usr/bin/pg_dump is pg_wrapper, a Perl script that picks a version by its own rules (local
        /// clusters, PGCLUSTER). PgBackup picks itself, from /usr/lib/postgresql/N/bin.
        /// </summary>
        private static bool IsDebianWrapper(string path)
        {
            if (IsWindows) return false;
            try
            {
                using var f = File.OpenRead(path);
                var head = new byte[256];
                int n = f.Read(head, 0, head.Length);
                if (n < 2 || head[0] != (byte)'#' || head[1] != (byte)'!') return false;
                var text = Encoding.ASCII.GetString(head, 0, n);
                return text.IndexOf("perl", StringComparison.Ordinal) >= 0 &&
                       File.ReadAllText(path).IndexOf("PgCommon", StringComparison.Ordinal) >= 0;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { return false; }
        }

        /// <summary>Runs <c>tool --version</c> once per file (cached by modification time).</summary>
        internal static PgVersion? ProbeVersion(string path)
        {
            DateTime stamp;
            try { stamp = File.GetLastWriteTimeUtc(path); } catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { return null; }
            if (VersionCache.TryGetValue(path, out var cached) && cached.Stamp == stamp) return cached.Version;
            PgVersion? version = null;
            try
            {
                var result = ChildProcess.RunToEnd(path, new[] { "--version" }, null, TimeSpan.FromSeconds(15));
                if (result.ExitCode == 0) version = PgVersion.FromToolOutput(result.StandardOutput);
            }
            catch (Exception e) when (e is IOException || e is System.ComponentModel.Win32Exception || e is InvalidOperationException || e is PgBackupException) { }
            VersionCache[path] = (stamp, version);
            return version;
        }
    }
}
