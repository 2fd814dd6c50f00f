using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>A backup for the planner: no files, just a time, a group and an identity.</summary>
    internal sealed class FakeBackup : IRetentionCandidate
    {
        public FakeBackup(DateTime time, string group = "app", bool good = true, string? id = null)
        {
            Time = time;
            Group = group;
            IsGood = good;
            Id = id ?? $"{group}/{time:yyyyMMdd_HHmmss.fffffff}";
        }

        public string Id { get; }
        public DateTime Time { get; }
        public string Group { get; }
        public bool IsGood { get; }
        public int Removals { get; private set; }
        public void Remove(IOperationLog log, CancellationToken cancellationToken) => Removals++;
        public override string ToString() => Id;
    }

    public sealed class RetentionPlannerTests
    {
        private static readonly TimeZoneInfo Berlin = RetentionPolicy.FindTimeZone("Europe/Berlin");
        private static readonly TimeZoneInfo NewYork = RetentionPolicy.FindTimeZone("America/New_York");

        private static DateTime Utc(int y, int mo, int d, int h = 0, int mi = 0) => new DateTime(y, mo, d, h, mi, 0, DateTimeKind.Utc);

        private static Dictionary<DateTime, RetentionDecision> ByTime(IEnumerable<RetentionDecision> plan) => plan.ToDictionary(d => d.Time);

        private static List<DateTime> Kept(IEnumerable<RetentionDecision> plan) =>
            plan.Where(d => d.Action == RetentionAction.Keep).Select(d => d.Time).OrderByDescending(t => t).ToList();

        // ---------------------------------------------------------------- hand-computed restic results

        [Fact]
        public void MatchesHandComputedResticResult()
        {
            var times = new[]
            {
                Utc(2026, 3, 15, 10), Utc(2026, 3, 15, 9), Utc(2026, 3, 14, 10), Utc(2026, 3, 12, 10), Utc(2026, 3, 9, 10),
                Utc(2026, 3, 8, 10), Utc(2026, 3, 1, 10), Utc(2026, 2, 20, 10), Utc(2026, 1, 31, 10), Utc(2025, 12, 31, 10),
            };
            var plan = RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)),
                new RetentionPolicy { Last = 2, Daily = 3, Weekly = 2, Monthly = 3, TimeZone = TimeZoneInfo.Utc });
            var d = ByTime(plan);
            Assert.Equal(new[] { "last 1", "daily 2026-03-15", "weekly 2026-W11", "monthly 2026-03", "newest" }, d[times[0]].Reasons);
            Assert.Equal(new[] { "last 2" }, d[times[1]].Reasons);
            Assert.Equal(new[] { "daily 2026-03-14" }, d[times[2]].Reasons);
            Assert.Equal(new[] { "daily 2026-03-12" }, d[times[3]].Reasons);
            Assert.Equal(RetentionAction.Remove, d[times[4]].Action);      // same ISO week as the 15th; daily budget spent
            Assert.Empty(d[times[4]].Reasons);
            Assert.Equal(new[] { "weekly 2026-W10" }, d[times[5]].Reasons); // Sunday 8 March closes week 10
            Assert.Equal(RetentionAction.Remove, d[times[6]].Action);
            Assert.Equal(new[] { "monthly 2026-02" }, d[times[7]].Reasons);
            Assert.Equal(new[] { "monthly 2026-01" }, d[times[8]].Reasons);
            Assert.Equal(RetentionAction.Remove, d[times[9]].Action);      // monthly budget spent before December
            Assert.Equal(10, plan.Count);

            // Yearly with budget to spare: 2025-12-31 opens year 2025 (and is in ISO week 2026-W01).
            var yearly = ByTime(RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)), new RetentionPolicy { Yearly = 5, Weekly = 10, TimeZone = TimeZoneInfo.Utc }));
            Assert.Equal(new[] { "weekly 2026-W01", "yearly 2025" }, yearly[times[9]].Reasons);
            Assert.Equal(new[] { "weekly 2026-W05" }, yearly[times[8]].Reasons);
        }

        [Fact]
        public void KeepsTheOldestWhenARuleHasBudgetLeft()
        {
            var times = new[] { Utc(2026, 3, 15, 10), Utc(2026, 3, 14, 10), Utc(2026, 3, 14, 8) };
            var wide = ByTime(RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)), new RetentionPolicy { Daily = 5, TimeZone = TimeZoneInfo.Utc }));
            Assert.Equal(new[] { "daily 2026-03-14 (oldest)" }, wide[times[2]].Reasons);
            var exact = ByTime(RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)), new RetentionPolicy { Daily = 2, TimeZone = TimeZoneInfo.Utc }));
            Assert.Equal(RetentionAction.Remove, exact[times[2]].Action);
            Assert.Equal(new[] { "daily 2026-03-14" }, exact[times[1]].Reasons);
        }

        [Fact]
        public void KeepLastCountsBackupsAndBucketRulesCountPeriodsWithBackups()
        {
            // Ten days of backups, three months without any, then five more days.
            var times = Enumerable.Range(0, 10).Select(i => Utc(2025, 11, 1 + i, 3))
                .Concat(Enumerable.Range(0, 5).Select(i => Utc(2026, 3, 1 + i, 3))).ToList();
            var plan = RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)), new RetentionPolicy { Daily = 7, TimeZone = TimeZoneInfo.Utc });
            Assert.Equal(new[] { Utc(2026, 3, 5, 3), Utc(2026, 3, 4, 3), Utc(2026, 3, 3, 3), Utc(2026, 3, 2, 3), Utc(2026, 3, 1, 3), Utc(2025, 11, 10, 3), Utc(2025, 11, 9, 3) }, Kept(plan));

            // Several backups a day: keep-last counts each one.
            var many = Enumerable.Range(0, 12).Select(i => Utc(2026, 3, 15, 0).AddHours(-i * 4)).ToList();
            var last = RetentionPlanner.Plan(many.Select(t => new FakeBackup(t)), new RetentionPolicy { Last = 7 });
            Assert.Equal(many.Take(7), Kept(last));
            Assert.Equal(new[] { "last 7" }, last.Single(d => d.Time == many[6]).Reasons);
        }

        // ---------------------------------------------------------------- generated multi-year histories

        private static List<FakeBackup> Hourly(DateTime from, DateTime to, string group = "app")
        {
            var list = new List<FakeBackup>();
            for (var t = from; t <= to; t = t.AddHours(1)) list.Add(new FakeBackup(t, group));
            return list;
        }

        [Fact]
        public void ThreeYearsOfHourlyBackupsInUtc()
        {
            var history = Hourly(Utc(2023, 1, 1), Utc(2025, 12, 31, 23));
            Assert.Equal(1096 * 24, history.Count);   // 2024 is a leap year
            var policy = new RetentionPolicy { Hourly = 24, Daily = 7, Weekly = 4, Monthly = 12, Yearly = 3, TimeZone = TimeZoneInfo.Utc };
            var plan = RetentionPlanner.Plan(history, policy);
            var kept = Kept(plan);
            var expected = new HashSet<DateTime>();
            for (int h = 0; h < 24; h++) expected.Add(Utc(2025, 12, 31, h));
            for (int day = 25; day <= 31; day++) expected.Add(Utc(2025, 12, day, 23));
            foreach (var day in new[] { 28, 21, 14 }) expected.Add(Utc(2025, 12, day, 23)); // ISO weeks 52, 51, 50 (31 Dec is in 2026-W01)
            for (int m = 1; m <= 12; m++) expected.Add(Utc(2025, m, DateTime.DaysInMonth(2025, m), 23));
            expected.Add(Utc(2024, 12, 31, 23));
            expected.Add(Utc(2023, 12, 31, 23));
            Assert.Equal(45, expected.Count);
            Assert.Equal(expected.OrderByDescending(t => t), kept);
            var d = ByTime(plan);
            Assert.Equal(new[] { "hourly 2025-12-31 23:00", "daily 2025-12-31", "weekly 2026-W01", "monthly 2025-12", "yearly 2025", "newest" }, d[Utc(2025, 12, 31, 23)].Reasons);
            Assert.Equal(new[] { "daily 2025-12-28", "weekly 2025-W52" }, d[Utc(2025, 12, 28, 23)].Reasons);
            Assert.Equal(new[] { "yearly 2023" }, d[Utc(2023, 12, 31, 23)].Reasons);

            // With more years asked for than there are, the oldest backup is kept too.
            var longer = ByTime(RetentionPlanner.Plan(history, new RetentionPolicy { Yearly = 5, TimeZone = TimeZoneInfo.Utc }));
            Assert.Equal(new[] { "yearly 2023 (oldest)" }, longer[Utc(2023, 1, 1)].Reasons);
            Assert.Equal(4, longer.Values.Count(x => x.Action == RetentionAction.Keep));
        }

        [Fact]
        public void PeriodsAreReckonedInTheGivenTimeZone()
        {
            var history = Hourly(Utc(2025, 12, 20), Utc(2025, 12, 31, 23));
            var d = ByTime(RetentionPlanner.Plan(history, new RetentionPolicy { Daily = 2, Monthly = 2, Yearly = 2, TimeZone = Berlin }));
            // 23:00 UTC on 31 December is midnight of the new year in Berlin.
            Assert.Equal(new[] { "daily 2026-01-01", "monthly 2026-01", "yearly 2026", "newest" }, d[Utc(2025, 12, 31, 23)].Reasons);
            Assert.Equal(new[] { "daily 2025-12-31", "monthly 2025-12", "yearly 2025" }, d[Utc(2025, 12, 31, 22)].Reasons);
            Assert.Equal(2, d.Values.Count(x => x.Action == RetentionAction.Keep));
        }

        [Fact]
        public void DaylightSavingTimeInBerlin()
        {
            // 29 March 2026: 02:00 CET becomes 03:00 CEST (at 01:00 UTC); 25 October 2026: 03:00 CEST becomes 02:00 CET.
            var spring = Hourly(Utc(2026, 3, 28, 20), Utc(2026, 3, 29, 3));
            var s = ByTime(RetentionPlanner.Plan(spring, new RetentionPolicy { Hourly = 100, TimeZone = Berlin }));
            Assert.Equal(new[] { "hourly 2026-03-29 01:00" }, s[Utc(2026, 3, 29, 0)].Reasons);
            Assert.Equal(new[] { "hourly 2026-03-29 03:00" }, s[Utc(2026, 3, 29, 1)].Reasons);   // there is no 02:00
            Assert.All(s.Values, x => Assert.Equal(RetentionAction.Keep, x.Action));

            var autumn = new[] { Utc(2026, 10, 24, 23, 30), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 25, 1, 30), Utc(2026, 10, 25, 2, 30) }
                .Select(t => new FakeBackup(t)).ToList();
            var a = ByTime(RetentionPlanner.Plan(autumn, new RetentionPolicy { Hourly = 4, TimeZone = Berlin }));
            Assert.Equal(new[] { "hourly 2026-10-25 01:00" }, a[Utc(2026, 10, 24, 23, 30)].Reasons);
            Assert.Equal(new[] { "hourly 2026-10-25 02:00+02:00" }, a[Utc(2026, 10, 25, 0, 30)].Reasons);
            Assert.Equal(new[] { "hourly 2026-10-25 02:00+01:00" }, a[Utc(2026, 10, 25, 1, 30)].Reasons); // the repeated hour is its own hour
            Assert.Equal(new[] { "hourly 2026-10-25 03:00", "newest" }, a[Utc(2026, 10, 25, 2, 30)].Reasons);

            // The day boundary moves with the offset: 22:30 UTC is 23:30 on the 28th, but 00:30 on the 30th.
            var days = new[] { Utc(2026, 3, 28, 22, 30), Utc(2026, 3, 29, 21, 30), Utc(2026, 3, 29, 22, 30) }.Select(t => new FakeBackup(t));
            var dd = ByTime(RetentionPlanner.Plan(days, new RetentionPolicy { Daily = 3, TimeZone = Berlin }));
            Assert.Equal("daily 2026-03-28", dd[Utc(2026, 3, 28, 22, 30)].Reasons.Single());
            Assert.Equal("daily 2026-03-29", dd[Utc(2026, 3, 29, 21, 30)].Reasons.Single());
            Assert.Equal("daily 2026-03-30", dd[Utc(2026, 3, 29, 22, 30)].Reasons[0]);
        }

        [Fact]
        public void DaylightSavingTimeInNewYork()
        {
            // 1 November 2026: 02:00 EDT becomes 01:00 EST (at 06:00 UTC); 01:30 happens twice.
            var times = new[] { Utc(2026, 11, 1, 4, 30), Utc(2026, 11, 1, 5, 30), Utc(2026, 11, 1, 6, 30), Utc(2026, 11, 1, 7, 30) };
            var d = ByTime(RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)), new RetentionPolicy { Hourly = 3, Daily = 1, TimeZone = NewYork }));
            Assert.Equal(new[] { "hourly 2026-11-01 02:00", "daily 2026-11-01", "newest" }, d[times[3]].Reasons);
            Assert.Equal(new[] { "hourly 2026-11-01 01:00-05:00" }, d[times[2]].Reasons);
            Assert.Equal(new[] { "hourly 2026-11-01 01:00-04:00" }, d[times[1]].Reasons);
            Assert.Equal(RetentionAction.Remove, d[times[0]].Action);
            // 8 March 2026: 02:00 EST becomes 03:00 EDT; a day of 23 hours is still one day.
            var spring = Hourly(Utc(2026, 3, 8, 5), Utc(2026, 3, 9, 3));
            var s = RetentionPlanner.Plan(spring, new RetentionPolicy { Daily = 1, TimeZone = NewYork });
            Assert.Equal(new[] { Utc(2026, 3, 9, 3) }, Kept(s));
            Assert.Equal("daily 2026-03-08", s.Single(x => x.Time == Utc(2026, 3, 9, 3)).Reasons[0]);
            Assert.Equal(23, s.Count);
        }

        [Fact]
        public void IsoWeek53()
        {
            var times = new[] { Utc(2021, 1, 4, 12), Utc(2021, 1, 3, 12), Utc(2020, 12, 31, 12) };
            var d = ByTime(RetentionPlanner.Plan(times.Select(t => new FakeBackup(t)), new RetentionPolicy { Weekly = 3, TimeZone = TimeZoneInfo.Utc }));
            Assert.Equal("weekly 2021-W01", d[times[0]].Reasons[0]);
            Assert.Equal(new[] { "weekly 2020-W53" }, d[times[1]].Reasons);
            Assert.Equal(new[] { "weekly 2020-W53 (oldest)" }, d[times[2]].Reasons);

            var t2026 = new[] { Utc(2027, 1, 4, 12), Utc(2027, 1, 1, 12), Utc(2026, 12, 28, 12), Utc(2026, 12, 27, 12) };
            var w = ByTime(RetentionPlanner.Plan(t2026.Select(t => new FakeBackup(t)), new RetentionPolicy { Weekly = 2, TimeZone = TimeZoneInfo.Utc }));
            Assert.Equal(new[] { "weekly 2026-W53" }, w[t2026[1]].Reasons);
            Assert.Equal(RetentionAction.Remove, w[t2026[2]].Action);
            Assert.Equal(RetentionAction.Remove, w[t2026[3]].Action);
        }

        // ---------------------------------------------------------------- safety

        [Fact]
        public void TheNewestGoodBackupSurvivesFailedBackupsAndAgeRules()
        {
            // Good backups until 1 March, then a month of failed (empty or partial) ones.
            var good = Enumerable.Range(0, 30).Select(i => new FakeBackup(Utc(2026, 3, 1, 3).AddDays(-i))).ToList();
            var failed = Enumerable.Range(1, 30).Select(i => new FakeBackup(Utc(2026, 3, 1, 3).AddDays(i), good: false)).ToList();
            var now = Utc(2026, 3, 31, 12);
            var plan = RetentionPlanner.Plan(good.Concat(failed), new RetentionPolicy { Last = 1, Now = now });
            Assert.Equal(new[] { "last 1", "newest" }, plan.Single(d => d.Time == good[0].Time).Reasons);
            Assert.All(plan.Where(d => !d.IsGood), d => Assert.Equal(new[] { "incomplete (not counted; -RemoveIncomplete removes it)" }, d.Reasons));
            Assert.All(plan.Where(d => !d.IsGood), d => Assert.Equal(RetentionAction.Keep, d.Action));

            // "Older than 7 days" is relative to the newest good backup, not to now.
            var within = RetentionPlanner.Plan(good.Concat(failed), new RetentionPolicy { Within = TimeSpan.FromDays(7), Now = now, RemoveIncomplete = true });
            Assert.Equal(good.Take(7).Select(g => g.Time), Kept(within.Where(d => d.IsGood)));
            Assert.Equal(new[] { "within 7d", "newest" }, within.Single(d => d.Time == good[0].Time).Reasons);
            // Failed ones are removed only with the switch, except one that may still be being written.
            var young = within.Single(d => d.Time == failed[29].Time);
            Assert.Equal(RetentionAction.Keep, young.Action);
            Assert.Equal(new[] { "incomplete, less than 24 hours old (may still be being written)" }, young.Reasons);
            Assert.All(within.Where(d => !d.IsGood && d.Time < now.AddDays(-1)), d => Assert.Equal(new[] { "incomplete" }, d.Reasons));
            Assert.Equal(29, within.Count(d => !d.IsGood && d.Action == RetentionAction.Remove));

            // A tiny window still keeps the newest; a backup dated in the future does not move the window.
            var tiny = RetentionPlanner.Plan(good.Append(new FakeBackup(Utc(2099, 1, 1))), new RetentionPolicy { Within = TimeSpan.FromHours(30), Now = now });
            Assert.Equal(new[] { Utc(2099, 1, 1), good[0].Time, good[1].Time }, Kept(tiny));
        }

        [Fact]
        public void GroupsNeverCountForEachOther()
        {
            var a = Hourly(Utc(2026, 3, 1), Utc(2026, 3, 3), "app @ /b");
            var b = new List<FakeBackup> { new FakeBackup(Utc(2025, 1, 1), "crm @ /b"), new FakeBackup(Utc(2024, 1, 1), "crm @ /b") };
            var c = new List<FakeBackup> { new FakeBackup(Utc(2025, 6, 1), "app @ /other") };
            var plan = RetentionPlanner.Plan(a.Concat(b).Concat(c), new RetentionPolicy { Last = 1 });
            Assert.Equal(new[] { "app @ /b", "app @ /other", "crm @ /b" }, plan.Select(d => d.Group).Distinct());
            Assert.Equal(3, plan.Count(d => d.Action == RetentionAction.Keep));
            Assert.Equal(Utc(2026, 3, 3), plan.Single(d => d.Group == "app @ /b" && d.Action == RetentionAction.Keep).Time);
            Assert.Equal(Utc(2025, 1, 1), plan.Single(d => d.Group == "crm @ /b" && d.Action == RetentionAction.Keep).Time);
        }

        [Fact]
        public void TiesAndDuplicatesAreDeterministic()
        {
            var t = Utc(2026, 3, 15, 3);
            var x = new FakeBackup(t, id: "/b/backup_app_20260315_030000.sql.gz");
            var y = new FakeBackup(t, id: "/b/backup_app_20260315_030000_2.sql.gz");
            var plan1 = RetentionPlanner.Plan(new[] { x, y, x }, new RetentionPolicy { Last = 1 });
            var plan2 = RetentionPlanner.Plan(new[] { y, x }, new RetentionPolicy { Last = 1 });
            Assert.Equal(2, plan1.Count);
            Assert.Equal(y.Id, plan1[0].Id);
            Assert.Equal(RetentionAction.Keep, plan1[0].Action);
            Assert.Equal(plan1.Select(d => (d.Id, d.Action)), plan2.Select(d => (d.Id, d.Action)));
        }

        [Fact]
        public void RefusesAnEmptyOrNegativePolicyAndUnknownTimeZones()
        {
            var e = Assert.Throws<PgBackupException>(() => RetentionPlanner.Plan(new[] { new FakeBackup(Utc(2026, 1, 1)) }, new RetentionPolicy()));
            Assert.Equal(ErrorIds.RetentionPolicyMissing, e.ErrorId);
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => new RetentionPolicy { Daily = -1 }.Validate()).ErrorId);
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => new RetentionPolicy { Within = TimeSpan.FromDays(-1) }.Validate()).ErrorId);
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => new RetentionPolicy { Within = TimeSpan.FromTicks(7) }.Validate()).ErrorId);
            Assert.Equal(ErrorIds.TimeZoneNotFound, Assert.Throws<PgBackupException>(() => RetentionPolicy.FindTimeZone("Mars/Olympus_Mons")).ErrorId);
            Assert.Same(TimeZoneInfo.Utc, RetentionPolicy.FindTimeZone("UTC"));
            Assert.Same(TimeZoneInfo.Local, RetentionPolicy.FindTimeZone(null));
            Assert.Empty(RetentionPlanner.Plan(Array.Empty<IRetentionCandidate>(), new RetentionPolicy { Last = 1 }));
        }

        // ---------------------------------------------------------------- randomized invariants

        private static List<FakeBackup> RandomHistory(Random rng)
        {
            var list = new List<FakeBackup>();
            var groups = new[] { "app @ /b", "crm @ /b", "app @ /c" }.Take(1 + rng.Next(3)).ToArray();
            foreach (var g in groups)
            {
                var t = Utc(2023, 1, 1).AddMinutes(rng.Next(0, 60 * 24 * 30));
                int n = rng.Next(1, 400);
                for (int i = 0; i < n; i++)
                {
                    // Mostly regular, sometimes bursts (same hour, same second), sometimes long gaps.
                    double r = rng.NextDouble();
                    t = r < 0.1 ? t : r < 0.3 ? t.AddMinutes(rng.Next(1, 90)) : r < 0.9 ? t.AddHours(rng.Next(1, 72)) : t.AddDays(rng.Next(3, 120));
                    list.Add(new FakeBackup(t, g, good: rng.NextDouble() > 0.15, id: $"{g}/{i:0000}"));
                }
            }
            return list;
        }

        private static RetentionPolicy RandomPolicy(Random rng)
        {
            int Pick() => rng.NextDouble() < 0.5 ? 0 : rng.Next(1, 15);
            var zones = new[] { TimeZoneInfo.Utc, Berlin, NewYork, RetentionPolicy.FindTimeZone("Asia/Kolkata") };
            var p = new RetentionPolicy
            {
                Last = Pick(), Hourly = Pick(), Daily = Pick(), Weekly = Pick(), Monthly = Pick(), Yearly = Pick(),
                Within = rng.NextDouble() < 0.3 ? TimeSpan.FromHours(rng.Next(1, 24 * 60)) : TimeSpan.Zero,
                TimeZone = zones[rng.Next(zones.Length)],
                RemoveIncomplete = rng.NextDouble() < 0.5,
                Now = rng.NextDouble() < 0.5 ? (DateTime?)null : Utc(2027, 1, 1).AddDays(-rng.Next(0, 700)),
            };
            return p.IsEmpty ? new RetentionPolicy { Daily = 3, TimeZone = p.TimeZone } : p;
        }

        private static List<(string Id, RetentionAction Action, string Reasons)> Shape(IEnumerable<RetentionDecision> plan) =>
            plan.Select(d => (d.Id, d.Action, string.Join("|", d.Reasons))).ToList();

        /// <summary>The same rules written as set logic rather than a walk: a second opinion on the planner.</summary>
        private static HashSet<string> ReferenceKept(List<FakeBackup> history, RetentionPolicy p)
        {
            var kept = new HashSet<string>();
            foreach (var group in history.GroupBy(b => b.Group))
            {
                var good = group.Where(b => b.IsGood).OrderByDescending(b => b.Time).ThenByDescending(b => b.Id, StringComparer.Ordinal).ToList();
                if (good.Count == 0) continue;
                kept.Add(good[0].Id);
                DateTime L(FakeBackup b) => TimeZoneInfo.ConvertTimeFromUtc(b.Time, p.TimeZone);
                var rules = new (int N, Func<FakeBackup, int, string> Key)[]
                {
                    (p.Last, (b, i) => i.ToString()),
                    (p.Hourly, (b, i) => L(b).ToString("yyyyMMddHH") + p.TimeZone.GetUtcOffset(b.Time)),
                    (p.Daily, (b, i) => L(b).ToString("yyyyMMdd")),
                    (p.Weekly, (b, i) => ISOWeek.GetYear(L(b)) + "W" + ISOWeek.GetWeekOfYear(L(b))),
                    (p.Monthly, (b, i) => L(b).ToString("yyyyMM")),
                    (p.Yearly, (b, i) => L(b).ToString("yyyy")),
                };
                foreach (var (n, key) in rules.Where(r => r.N > 0))
                {
                    var keys = good.Select((b, i) => key(b, i)).ToList();
                    var periods = keys.Distinct().Take(n).ToHashSet();
                    foreach (var k in periods) kept.Add(good[keys.IndexOf(k)].Id);
                    if (keys.Take(keys.Count - 1).Distinct().Count() < n) kept.Add(good[^1].Id);
                }
                if (p.Within > TimeSpan.Zero)
                {
                    var reference = good.FirstOrDefault(b => p.Now is null || b.Time <= p.Now)?.Time ?? good[0].Time;
                    foreach (var b in good.Where(b => b.Time > reference - p.Within)) kept.Add(b.Id);
                }
            }
            return kept;
        }

        [Fact]
        public void InvariantsHoldOnRandomizedHistories()
        {
            var rng = new Random(20260315);
            for (int round = 0; round < 300; round++)
            {
                var history = RandomHistory(rng);
                var policy = RandomPolicy(rng);
                var plan = RetentionPlanner.Plan(history, policy);
                string context = $"round {round}, policy {policy}";

                // One decision per backup.
                Assert.Equal(history.Select(b => b.Id).OrderBy(x => x, StringComparer.Ordinal), plan.Select(d => d.Id).OrderBy(x => x, StringComparer.Ordinal));
                // Every kept backup has a reason; a good backup removed has none.
                Assert.All(plan.Where(d => d.Action == RetentionAction.Keep), d => Assert.NotEmpty(d.Reasons));
                Assert.All(plan.Where(d => d.Action == RetentionAction.Remove && d.IsGood), d => Assert.Empty(d.Reasons));
                // The newest good backup of each group is kept, as "newest".
                foreach (var g in history.GroupBy(b => b.Group))
                {
                    var newest = g.Where(b => b.IsGood).OrderByDescending(b => b.Time).ThenByDescending(b => b.Id, StringComparer.Ordinal).FirstOrDefault();
                    if (newest is null) continue;
                    var d = plan.Single(x => x.Id == newest.Id);
                    Assert.Equal(RetentionAction.Keep, d.Action);
                    Assert.Contains("newest", d.Reasons);
                    Assert.Equal(1, plan.Count(x => x.Group == g.Key && x.Reasons.Contains("newest")));
                }
                // Incomplete backups are removed only with the switch, never counted.
                if (!policy.RemoveIncomplete) Assert.All(plan.Where(d => !d.IsGood), d => Assert.Equal(RetentionAction.Keep, d.Action));
                Assert.Equal(Shape(plan.Where(d => d.IsGood)), Shape(RetentionPlanner.Plan(history.Where(b => b.IsGood), policy)));
                // The same plan in any input order.
                var shuffled = history.OrderBy(_ => rng.Next()).ToList();
                Assert.Equal(Shape(plan), Shape(RetentionPlanner.Plan(shuffled, policy)));
                // Groups are planned independently.
                Assert.Equal(Shape(plan), Shape(history.GroupBy(b => b.Group).OrderBy(g => g.Key, StringComparer.Ordinal).SelectMany(g => RetentionPlanner.Plan(g, policy))));
                // Applying the plan again removes nothing more.
                var keptIds = plan.Where(d => d.Action == RetentionAction.Keep).Select(d => d.Id).ToHashSet();
                var again = RetentionPlanner.Plan(history.Where(b => keptIds.Contains(b.Id)), policy);
                Assert.True(again.All(d => d.Action == RetentionAction.Keep), context + ": a second run removed " + string.Join(", ", again.Where(d => d.Action == RetentionAction.Remove).Select(d => d.Id)));
                // A second, set-based reading of the rules agrees.
                var reference = ReferenceKept(history, policy);
                Assert.Equal(reference.OrderBy(x => x, StringComparer.Ordinal), plan.Where(d => d.IsGood && d.Action == RetentionAction.Keep).Select(d => d.Id).OrderBy(x => x, StringComparer.Ordinal));
            }
        }

        [Fact]
        public void RemovalGoesThroughTheCandidate()
        {
            var backups = Enumerable.Range(0, 5).Select(i => new FakeBackup(Utc(2026, 3, 1).AddDays(i))).ToList();
            var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Last = 2 });
            foreach (var d in plan.Where(d => d.Action == RetentionAction.Remove)) d.Candidate.Remove(NullLog.Instance, CancellationToken.None);
            Assert.Equal(new[] { 1, 1, 1, 0, 0 }, backups.Select(b => b.Removals));
            Assert.Same(backups[4], plan[0].Backup);
        }
    }
}
