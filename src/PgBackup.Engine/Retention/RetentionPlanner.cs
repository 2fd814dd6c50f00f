using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace PgBackup
{
    /// <summary>
    /// Plans retention: which backups to keep and which to remove, with restic's <c>forget</c> semantics and two safety
    /// rules of its own. Pure and deterministic: no I/O, no clock (unless the policy carries one), and the same plan
    /// for the same backups in any order.
    /// </summary>
    /// <remarks>
    /// Per group, the good backups are ordered newest first (ties: the greater Id is newer). Then:
    /// <list type="bullet">
    /// <item>KeepLast N keeps the N newest.</item>
    /// <item>A bucket rule (hourly, daily, weekly, monthly, yearly) walks the backups newest first and keeps each one that
    /// opens a new period (so the newest backup of each period), until it has kept N; periods without backups do not
    /// count. If the rule has kept fewer than N when it reaches the oldest backup, it keeps the oldest too (the
    /// longest history), as restic does.</item>
    /// <item>KeepWithin keeps every backup taken after the newest one's time minus the span.</item>
    /// <item>The newest good backup is always kept. Backups that are not good are never counted and never the newest;
    /// they are kept unless <see cref="RetentionPolicy.RemoveIncomplete"/>.</item>
    /// </list>
    /// Periods are reckoned in the policy's time zone. An hour is a clock hour with its UTC offset, so the hour that
    /// repeats when clocks go back counts as two hours (restic would count it as one).
    /// </remarks>
    public static class RetentionPlanner
    {
        private const string IncompleteKept = "incomplete (not counted; -RemoveIncomplete removes it)";
        private const string IncompleteYoung = "incomplete, less than 24 hours old (may still be being written)";
        private const string IncompleteRemoved = "incomplete";

        /// <summary>
        /// One decision per distinct candidate (by Id), ordered by group, then newest first. Throws
        /// <see cref="PgBackupException"/> (RetentionPolicyMissing, InvalidParameter) for an empty or invalid policy.
        /// </summary>
        public static List<RetentionDecision> Plan(IEnumerable<IRetentionCandidate> candidates, RetentionPolicy policy)
        {
            if (candidates is null) throw new ArgumentNullException(nameof(candidates));
            if (policy is null) throw new ArgumentNullException(nameof(policy));
            policy.Validate();

            var entries = candidates.Where(c => c is not null).Select(c => new Entry(c)).ToList();
            // The same backup given twice is planned once.
            var distinct = entries.GroupBy(e => e.Candidate.Id ?? "", StringComparer.Ordinal)
                .Select(g => g.OrderBy(e => e, NewestFirst).First());

            var result = new List<RetentionDecision>();
            foreach (var group in distinct.GroupBy(e => e.Group, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
                result.AddRange(PlanGroup(group.OrderBy(e => e, NewestFirst).ToList(), policy));
            return result;
        }

        private static IEnumerable<RetentionDecision> PlanGroup(List<Entry> all, RetentionPolicy policy)
        {
            var good = all.Where(e => e.Candidate.IsGood).ToList();
            var tz = policy.TimeZone ?? TimeZoneInfo.Local;

            if (good.Count > 0)
            {
                if (policy.Last > 0)
                    ApplyBucketRule(good, policy.Last, (e, i) => i, (e, i) => "last " + (i + 1).ToString(CultureInfo.InvariantCulture));
                if (policy.Hourly > 0)
                    ApplyBucketRule(good, policy.Hourly, (e, i) => HourKey(e.Time, tz), (e, i) => "hourly " + HourLabel(e.Time, tz));
                if (policy.Daily > 0)
                    ApplyBucketRule(good, policy.Daily, (e, i) => Local(e.Time, tz).Date.Ticks, (e, i) => "daily " + Local(e.Time, tz).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                if (policy.Weekly > 0)
                    ApplyBucketRule(good, policy.Weekly, (e, i) => { var w = IsoWeek.Of(Local(e.Time, tz)); return w.Year * 100L + w.Week; }, (e, i) => "weekly " + IsoWeek.Format(Local(e.Time, tz)));
                if (policy.Monthly > 0)
                    ApplyBucketRule(good, policy.Monthly, (e, i) => { var l = Local(e.Time, tz); return l.Year * 100L + l.Month; }, (e, i) => "monthly " + Local(e.Time, tz).ToString("yyyy-MM", CultureInfo.InvariantCulture));
                if (policy.Yearly > 0)
                    ApplyBucketRule(good, policy.Yearly, (e, i) => Local(e.Time, tz).Year, (e, i) => "yearly " + Local(e.Time, tz).Year.ToString("0000", CultureInfo.InvariantCulture));
                if (policy.Within > TimeSpan.Zero)
                {
                    // Relative to the newest backup (not to now), so that retention keeps the same history when backups
                    // have stopped. A backup dated in the future (a wrong clock) does not move the reference.
                    var reference = good.Where(e => !policy.Now.HasValue || e.Time <= ToUtc(policy.Now.Value))
                        .Select(e => (DateTime?)e.Time).FirstOrDefault() ?? good[0].Time;
                    var cutoff = reference.Ticks - policy.Within.Ticks > DateTime.MinValue.Ticks ? reference - policy.Within : DateTime.MinValue;
                    var label = "within " + RetentionPolicy.FormatSpan(policy.Within);
                    foreach (var e in good.Where(e => e.Time > cutoff)) e.Reasons.Add(label);
                }
                good[0].Reasons.Add("newest");
            }

            foreach (var e in all)
            {
                if (e.Candidate.IsGood)
                {
                    yield return new RetentionDecision(e.Candidate, e.Time, e.Reasons.Count > 0 ? RetentionAction.Keep : RetentionAction.Remove, e.Reasons.ToArray());
                    continue;
                }
                if (!policy.RemoveIncomplete)
                    yield return new RetentionDecision(e.Candidate, e.Time, RetentionAction.Keep, new[] { IncompleteKept });
                else if (policy.Now.HasValue && e.Time > ToUtc(policy.Now.Value) - RetentionPolicy.IncompleteGracePeriod)
                    yield return new RetentionDecision(e.Candidate, e.Time, RetentionAction.Keep, new[] { IncompleteYoung });
                else
                    yield return new RetentionDecision(e.Candidate, e.Time, RetentionAction.Remove, new[] { IncompleteRemoved });
            }
        }

        /// <summary>
        /// restic's bucket rule: newest first, keep each backup that opens a new period until <paramref name="count"/>
        /// are kept; with budget left at the oldest backup, keep it too.
        /// </summary>
        private static void ApplyBucketRule(List<Entry> newestFirst, int count, Func<Entry, int, long> period, Func<Entry, int, string> label)
        {
            int left = count;
            long? previous = null;
            for (int i = 0; i < newestFirst.Count && left > 0; i++)
            {
                var e = newestFirst[i];
                long key = period(e, i);
                bool opensPeriod = previous != key;
                bool oldest = i == newestFirst.Count - 1;
                previous = key;
                if (!opensPeriod && !oldest) continue;
                e.Reasons.Add(opensPeriod ? label(e, i) : label(e, i) + " (oldest)");
                left--;
            }
        }

        private static DateTime Local(DateTime utc, TimeZoneInfo tz) => TimeZoneInfo.ConvertTimeFromUtc(utc, tz);

        private static long HourKey(DateTime utc, TimeZoneInfo tz)
        {
            var local = Local(utc, tz);
            long offsetMinutes = (long)tz.GetUtcOffset(utc).TotalMinutes;
            // yyyyMMddHH, then the offset (so the repeated hour at the end of summer time is a different hour).
            long hour = ((local.Year * 100L + local.Month) * 100 + local.Day) * 100 + local.Hour;
            return hour * 10000 + (offsetMinutes + 5000);
        }

        private static string HourLabel(DateTime utc, TimeZoneInfo tz)
        {
            var local = Local(utc, tz);
            var text = local.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture);
            if (tz.IsAmbiguousTime(local))
            {
                var offset = tz.GetUtcOffset(utc);
                text += (offset < TimeSpan.Zero ? "-" : "+") + offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);
            }
            return text;
        }

        internal static DateTime ToUtc(DateTime t) => t.Kind switch
        {
            DateTimeKind.Local => t.ToUniversalTime(),
            DateTimeKind.Utc => t,
            _ => DateTime.SpecifyKind(t, DateTimeKind.Utc),
        };

        /// <summary>Newest first; of two backups taken at the same time, the one with the greater Id counts as newer.</summary>
        private static readonly Comparer<Entry> NewestFirst = Comparer<Entry>.Create((a, b) =>
        {
            int c = b.Time.CompareTo(a.Time);
            if (c != 0) return c;
            c = string.CompareOrdinal(b.Candidate.Id, a.Candidate.Id);
            if (c != 0) return c;
            c = string.CompareOrdinal(a.Group, b.Group);
            if (c != 0) return c;
            return b.Candidate.IsGood.CompareTo(a.Candidate.IsGood);
        });

        private sealed class Entry
        {
            public Entry(IRetentionCandidate candidate)
            {
                Candidate = candidate;
                Time = ToUtc(candidate.Time);
                Group = candidate.Group ?? "";
            }

            public IRetentionCandidate Candidate { get; }
            public DateTime Time { get; }
            public string Group { get; }
            public List<string> Reasons { get; } = new List<string>();
        }
    }
}
