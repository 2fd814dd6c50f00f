using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace PgBackup
{
    /// <summary>A PostgreSQL version: major (15, or 9.6 written as 9) and minor.</summary>
    public readonly struct PgVersion : IComparable<PgVersion>, IEquatable<PgVersion>
    {
        private static readonly Regex ToolVersion = new Regex(@"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?", RegexOptions.Compiled);

        public PgVersion(int major, int minor)
        {
            Major = major;
            Minor = minor;
        }

        public int Major { get; }
        public int Minor { get; }

        /// <summary>From <c>server_version_num</c>: 150018 is 15.18, 90624 is 9.6.24 (major 9).</summary>
        public static PgVersion FromVersionNum(int num) =>
            num >= 100000 ? new PgVersion(num / 10000, num % 10000) : new PgVersion(num / 10000, num % 100);

        /// <summary>From a tool's <c>--version</c> output, e.g. <c>pg_dump (PostgreSQL) 15.18 (Debian ...)</c>.</summary>
        public static PgVersion? FromToolOutput(string output)
        {
            var m = ToolVersion.Match(output ?? "");
            if (!m.Success) return null;
            int major = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            int minor = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
            if (major < 10 && m.Groups[3].Success) minor = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            return new PgVersion(major, minor);
        }

        /// <summary>Parses "15.18" or "9.6.24".</summary>
        public static PgVersion Parse(string text)
        {
            var parts = (text ?? "").Trim().Split('.');
            if (parts.Length == 0 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major))
                throw new FormatException($"'{text}' is not a PostgreSQL version.");
            int minor = 0;
            if (major < 10 && parts.Length >= 3) int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out minor);
            else if (parts.Length >= 2) int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out minor);
            return new PgVersion(major, minor);
        }

        public int CompareTo(PgVersion other) => Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);
        public bool Equals(PgVersion other) => Major == other.Major && Minor == other.Minor;
        public override bool Equals(object? obj) => obj is PgVersion v && Equals(v);
        public override int GetHashCode() => Major * 1000 + Minor;
        public override string ToString() => Major.ToString(CultureInfo.InvariantCulture) + "." + Minor.ToString(CultureInfo.InvariantCulture);
        public static bool operator <(PgVersion a, PgVersion b) => a.CompareTo(b) < 0;
        public static bool operator >(PgVersion a, PgVersion b) => a.CompareTo(b) > 0;
        public static bool operator <=(PgVersion a, PgVersion b) => a.CompareTo(b) <= 0;
        public static bool operator >=(PgVersion a, PgVersion b) => a.CompareTo(b) >= 0;
        public static bool operator ==(PgVersion a, PgVersion b) => a.Equals(b);
        public static bool operator !=(PgVersion a, PgVersion b) => !a.Equals(b);
    }
}
