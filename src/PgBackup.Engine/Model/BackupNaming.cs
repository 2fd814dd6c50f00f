using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace PgBackup
{
    /// <summary>What a backup's name says about it.</summary>
    public sealed class ParsedBackupName
    {
        public string Name { get; init; } = "";
        /// <summary>The name without its extensions: <c>backup_&lt;db&gt;_&lt;yyyyMMdd_HHmmss&gt;[_N]</c>.</summary>
        public string Stem { get; init; } = "";
        /// <summary>The database as written in the name (characters unsafe in file names replaced).</summary>
        public string Database { get; init; } = "";
        public DateTime TimeUtc { get; init; }
        public int Sequence { get; init; }
        public BackupFormat Format { get; init; }
        public CompressionMethod Compression { get; init; }
        public bool Encrypted { get; init; }
        /// <summary>
        /// The name the guide's backup-database.sh writes, <c>backup_&lt;db&gt;_&lt;yyyyMMdd_HHmmss&gt;.sql.gz</c>, or that
        /// file encrypted with the guide's <c>gpg --symmetric</c> (<c>.sql.gz.gpg</c>).
        /// </summary>
        public bool IsGuideStyle => Format == BackupFormat.Plain && Compression == CompressionMethod.Gzip && Sequence == 0;
    }

    /// <summary>
    /// The one naming scheme: <c>backup_&lt;database&gt;_&lt;yyyyMMdd_HHmmss&gt;[_N]&lt;extension&gt;</c> (UTC, as the guide's
    /// script names them), the manifest at <c>&lt;name&gt;.json</c>, work in progress at <c>&lt;name&gt;.partial</c>.
    /// </summary>
    public static class BackupNaming
    {
        public const string ManifestSuffix = ".json";
        public const string PartialSuffix = ".partial";
        public const string EncryptedSuffix = ".gpg";
        /// <summary>The manifest's detached OpenPGP signature: <c>&lt;name&gt;.json.sig</c>, what <c>gpg --detach-sign &lt;name&gt;.json</c> writes.</summary>
        public const string SignatureSuffix = ".sig";
        private const string TimeFormat = "yyyyMMdd_HHmmss";

        private static readonly Regex NamePattern = new Regex(
            @"^backup_(?<db>.+)_(?<ts>\d{8}_\d{6})(?:_(?<seq>\d{1,4}))?(?<ext>\.sql\.gz|\.sql\.zst|\.sql|\.dump|\.dir)(?<gpg>\.gpg)?$",
            RegexOptions.Compiled | RegexOptions.CultureInvariant);

        public static string Extension(BackupFormat format, CompressionMethod compression, bool encrypted = false)
        {
            string ext = format switch
            {
                BackupFormat.Plain => compression switch
                {
                    CompressionMethod.Gzip => ".sql.gz",
                    CompressionMethod.Zstd => ".sql.zst",
                    _ => ".sql",
                },
                BackupFormat.Custom => ".dump",
                _ => ".dir",
            };
            return encrypted ? ext + EncryptedSuffix : ext;
        }

        /// <summary>A database name made safe for file and object names on every platform.</summary>
        public static string SafeDatabaseName(string database)
        {
            var sb = new StringBuilder(database.Length);
            foreach (char c in database)
                sb.Append(c < 32 || c == 127 || "/\\:*?\"<>|".IndexOf(c) >= 0 ? '_' : c);
            var s = sb.ToString().Trim().TrimEnd('.');
            return s.Length == 0 ? "_" : s;
        }

        public static string Stem(string database, DateTime timeUtc, int sequence = 0) =>
            "backup_" + SafeDatabaseName(database) + "_" + timeUtc.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture) +
            (sequence > 1 ? "_" + sequence.ToString(CultureInfo.InvariantCulture) : "");

        /// <summary>
        /// A name for a new backup that no existing entry (backup, manifest or partial) uses: the guide's name, or the
        /// same with <c>_2</c>, <c>_3</c>... when several backups start in the same second.
        /// </summary>
        public static string NewName(string database, DateTime timeUtc, BackupFormat format, CompressionMethod compression,
            bool encrypted, IEnumerable<string> existingNames)
        {
            var stems = TakenStems(existingNames);
            for (int seq = 1; ; seq++)
            {
                var stem = Stem(database, timeUtc, seq);
                if (!stems.Contains(stem)) return stem + Extension(format, compression, encrypted);
            }
        }

        /// <summary>The names already in use in a store: every existing entry's stem, whatever its suffixes.</summary>
        internal static HashSet<string> TakenStems(IEnumerable<string> existingNames) =>
            new HashSet<string>(existingNames.Select(n => Parse(StripAuxiliarySuffix(n))).Where(p => p is not null)
                .Select(p => Stem(p!.Database, p.TimeUtc, p.Sequence)), StringComparer.OrdinalIgnoreCase);

        /// <summary>Removes a trailing <c>.json</c>, <c>.sig</c> or <c>.partial</c> (possibly several).</summary>
        public static string StripAuxiliarySuffix(string name)
        {
            bool changed = true;
            while (changed)
            {
                changed = false;
                foreach (var suffix in new[] { PartialSuffix, ManifestSuffix, SignatureSuffix })
                    if (name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                    {
                        name = name.Substring(0, name.Length - suffix.Length);
                        changed = true;
                    }
            }
            return name;
        }

        public static string ManifestName(string backupName) => backupName + ManifestSuffix;
        public static string SignatureName(string backupName) => backupName + ManifestSuffix + SignatureSuffix;

        /// <summary>The roles and globals saved beside a backup: <c>&lt;stem&gt;.globals.sql</c> (<c>.gpg</c> when encrypted).</summary>
        public static string GlobalsName(string stem, bool encrypted) => stem + ".globals.sql" + (encrypted ? EncryptedSuffix : "");
        public static string PartialName(string name) => name + PartialSuffix;

        /// <summary>Parses a backup's name (not a manifest's or a partial's); null when it is not one.</summary>
        public static ParsedBackupName? Parse(string name)
        {
            var m = NamePattern.Match(name);
            if (!m.Success) return null;
            if (!DateTime.TryParseExact(m.Groups["ts"].Value, TimeFormat, CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                return null;
            var ext = m.Groups["ext"].Value;
            return new ParsedBackupName
            {
                Name = name,
                Stem = name.Substring(0, m.Groups["ext"].Index),
                Database = m.Groups["db"].Value,
                TimeUtc = DateTime.SpecifyKind(time, DateTimeKind.Utc),
                Sequence = m.Groups["seq"].Success ? int.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture) : 0,
                Format = ext switch { ".dump" => BackupFormat.Custom, ".dir" => BackupFormat.Directory, _ => BackupFormat.Plain },
                Compression = ext switch { ".sql.gz" => CompressionMethod.Gzip, ".sql.zst" => CompressionMethod.Zstd, ".sql" => CompressionMethod.None, _ => CompressionMethod.None },
                Encrypted = m.Groups["gpg"].Success,
            };
        }
    }

    /// <summary>
    /// The names in one store during a run that writes several backups into it at once (New-PgBackup -AllDatabases
    /// -ThrottleLimit): the store's listing, taken once for the run, and every name given since. Two databases whose
    /// names differ only in characters unsafe in file names ("a/b", "a:b", "a_b"), started in the same second, never
    /// get the same name.
    /// </summary>
    public sealed class BackupNameRegistry
    {
        private readonly HashSet<string> _reserved = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        private readonly object _lock = new object();

        /// <param name="storeNames">The names the store listed at the start of the run.</param>
        public BackupNameRegistry(IEnumerable<string> storeNames) { _reserved.UnionWith(storeNames); }

        /// <summary>A new name (<see cref="BackupNaming.NewName"/>) that neither the store nor another run of this registry uses.</summary>
        public string Reserve(string database, DateTime timeUtc, BackupFormat format, CompressionMethod compression, bool encrypted)
        {
            lock (_lock)
            {
                var name = BackupNaming.NewName(database, timeUtc, format, compression, encrypted, _reserved);
                _reserved.Add(name);
                return name;
            }
        }
    }
}
