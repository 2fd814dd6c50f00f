using System;
using System.Collections.Generic;
using System.Globalization;

namespace PgBackup
{
    /// <summary>
    /// Which backups retention keeps, with restic's <c>forget</c> rules: a backup is kept when any rule keeps it.
    /// Counts of 0 turn a rule off; at least one rule must be on.
    /// </summary>
    public sealed class RetentionPolicy
    {
        /// <summary>Keep the N newest good backups.</summary>
        public int Last { get; init; }
        /// <summary>Keep the newest good backup of each of the N most recent hours that have one.</summary>
        public int Hourly { get; init; }
        /// <summary>... of each of the N most recent days.</summary>
        public int Daily { get; init; }
        /// <summary>... of each of the N most recent ISO weeks (Monday to Sunday).</summary>
        public int Weekly { get; init; }
        /// <summary>... of each of the N most recent calendar months.</summary>
        public int Monthly { get; init; }
        /// <summary>... of each of the N most recent calendar years.</summary>
        public int Yearly { get; init; }
        /// <summary>Keep every good backup taken after the newest good backup's time minus this span (zero: off).</summary>
        public TimeSpan Within { get; init; }
        /// <summary>The zone in which hours, days, weeks, months and years are reckoned.</summary>
        public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Local;
        /// <summary>Remove incomplete (not good) backups too, except those that may still be being written.</summary>
        public bool RemoveIncomplete { get; init; }
        /// <summary>
        /// The current time (UTC), when known: backups dated after it do not move the -KeepWithin reference forward, and
        /// incomplete backups younger than <see cref="IncompleteGracePeriod"/> are never removed. Null: no clock is used.
        /// </summary>
        public DateTime? Now { get; init; }

        /// <summary>Incomplete backups this young may still be being written: they are not removed.</summary>
        public static readonly TimeSpan IncompleteGracePeriod = TimeSpan.FromHours(24);

        /// <summary>True when no rule is on.</summary>
        public bool IsEmpty => Last == 0 && Hourly == 0 && Daily == 0 && Weekly == 0 && Monthly == 0 && Yearly == 0 && Within == TimeSpan.Zero;

        /// <summary>Throws <see cref="PgBackupException"/> when the policy has no rule or a negative one.</summary>
        public void Validate()
        {
            foreach (var (name, value) in new[] { ("KeepLast", Last), ("KeepHourly", Hourly), ("KeepDaily", Daily), ("KeepWeekly", Weekly), ("KeepMonthly", Monthly), ("KeepYearly", Yearly) })
                if (value < 0)
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"-{name} cannot be negative ({value}).", value);
            if (Within < TimeSpan.Zero)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"-KeepWithin cannot be negative ({Within}).", Within);
            if (Within > TimeSpan.Zero && Within < TimeSpan.FromMinutes(1))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"-KeepWithin {Within} is less than a minute; PowerShell reads a plain number such as 7 as ticks, not days. Nothing was removed.", Within)
                {
                    RecommendedAction = "Write days.hours:minutes:seconds, for example -KeepWithin 7.00:00:00 for 7 days.",
                };
            if (IsEmpty)
                throw new PgBackupException(ErrorIds.RetentionPolicyMissing, ErrorKind.InvalidArgument,
                    "No retention rule was given, and retention does not guess one: nothing was removed.")
                {
                    RecommendedAction = "Give at least one of -KeepLast, -KeepHourly, -KeepDaily, -KeepWeekly, -KeepMonthly, -KeepYearly or -KeepWithin.",
                };
        }

        /// <summary>Describes the rules: <c>last 7, daily 7, weekly 4, monthly 12</c>.</summary>
        public override string ToString()
        {
            var parts = new List<string>();
            if (Last > 0) parts.Add("last " + Last);
            if (Hourly > 0) parts.Add("hourly " + Hourly);
            if (Daily > 0) parts.Add("daily " + Daily);
            if (Weekly > 0) parts.Add("weekly " + Weekly);
            if (Monthly > 0) parts.Add("monthly " + Monthly);
            if (Yearly > 0) parts.Add("yearly " + Yearly);
            if (Within > TimeSpan.Zero) parts.Add("within " + FormatSpan(Within));
            return parts.Count == 0 ? "(no rule)" : string.Join(", ", parts) + " (" + TimeZone.Id + ")";
        }

        /// <summary>
        /// A time zone by id: <c>UTC</c>, <c>Local</c>, an IANA id (<c>Europe/Berlin</c>) or a Windows id
        /// (<c>W. Europe Standard Time</c>), on every platform: .NET Framework knows only Windows ids, .NET on Linux
        /// and macOS only IANA ids, so the other kind is translated by CLDR's table (TimeZoneConverter). Throws
        /// <see cref="PgBackupException"/> (TimeZoneNotFound) when unknown.
        /// </summary>
        public static TimeZoneInfo FindTimeZone(string? id) => FindTimeZone(id, SystemTimeZone);

        /// <summary><see cref="FindTimeZone(string?)"/> with the machine's own lookup given (the tests give Windows' one).</summary>
        internal static TimeZoneInfo FindTimeZone(string? id, Func<string, TimeZoneInfo?> system)
        {
            if (string.IsNullOrWhiteSpace(id) || string.Equals(id, "Local", StringComparison.OrdinalIgnoreCase))
                return TimeZoneInfo.Local;
            id = id!.Trim();
            if (string.Equals(id, "UTC", StringComparison.OrdinalIgnoreCase) || string.Equals(id, "Etc/UTC", StringComparison.OrdinalIgnoreCase) || id == "Z")
                return TimeZoneInfo.Utc;
            var zone = system(id)
                ?? (TimeZoneConverter.TZConvert.TryIanaToWindows(id, out var windowsId) ? system(windowsId) : null)
                ?? (TimeZoneConverter.TZConvert.TryWindowsToIana(id, out var ianaId) ? system(ianaId) : null);
            if (zone is not null) return zone;
            throw new PgBackupException(ErrorIds.TimeZoneNotFound, ErrorKind.ObjectNotFound,
                $"The time zone '{id}' was not found on this machine.", id)
            {
                RecommendedAction = "Use UTC, Local, an IANA id (Europe/Berlin) or a Windows id (W. Europe Standard Time); [System.TimeZoneInfo]::GetSystemTimeZones() lists this machine's.",
            };
        }

        private static TimeZoneInfo? SystemTimeZone(string id)
        {
            try { return TimeZoneInfo.FindSystemTimeZoneById(id); }
            catch (Exception e) when (e is TimeZoneNotFoundException || e is InvalidTimeZoneException || e is ArgumentException || e is System.Security.SecurityException) { return null; }
        }

        /// <summary><c>7d</c>, <c>1d 12h</c>, <c>90m</c> → <c>1h 30m</c>.</summary>
        public static string FormatSpan(TimeSpan span)
        {
            var parts = new List<string>();
            if (span.Days > 0) parts.Add(span.Days.ToString(CultureInfo.InvariantCulture) + "d");
            if (span.Hours > 0) parts.Add(span.Hours.ToString(CultureInfo.InvariantCulture) + "h");
            if (span.Minutes > 0) parts.Add(span.Minutes.ToString(CultureInfo.InvariantCulture) + "m");
            if (span.Seconds > 0 || parts.Count == 0) parts.Add(span.Seconds.ToString(CultureInfo.InvariantCulture) + "s");
            return string.Join(" ", parts);
        }
    }
}
