using System;
using System.Diagnostics;
using System.Text;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// PgBackup's own databases: their reserved names, the mark in their comment, and the rule that decides which ones a
    /// killed job left behind (the server side is in the Pester tests: Get-PgBackupScratchDatabase, Interrupted).
    /// </summary>
    public sealed class ScratchDatabaseTests
    {
        [Theory]
        [InlineData(ScratchKind.Restore, "app", "app_pgbackup_restore_")]
        [InlineData(ScratchKind.Previous, "app", "app_pgbackup_previous_")]
        [InlineData(ScratchKind.Drill, "app", "pgbackup_drill_")]
        [InlineData(ScratchKind.Export, null, "pgbackup_export_")]
        [InlineData(ScratchKind.Partial, "app", "pgbackup_partial_")]
        public void NamesAreReservedAndRandom(ScratchKind kind, string? target, string prefix)
        {
            var a = ScratchNames.New(kind, target);
            Assert.StartsWith(prefix, a);
            Assert.Equal(prefix.Length + 12, a.Length);
            Assert.True(ScratchNames.IsReserved(a));
            Assert.NotEqual(a, ScratchNames.New(kind, target));
        }

        [Fact]
        public void LongTargetsAreShortenedNotTheReservedPart()
        {
            var target = new string('x', 40) + "ä€😀" + new string('y', 20);
            var name = ScratchNames.New(ScratchKind.Restore, target);
            Assert.True(Encoding.UTF8.GetByteCount(name) <= 63, name);
            Assert.True(ScratchNames.IsReserved(name), name);
            Assert.StartsWith("xxxx", name);
            // A surrogate pair is never cut in half.
            Assert.DoesNotContain('\uFFFD', Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(name)));
        }

        [Theory]
        [InlineData("app")]
        [InlineData("app_pgbackup_restore_1234")]               // the old 8-digit names, or a user's
        [InlineData("app_pgbackup_restore_0123456789ab_copy")]
        [InlineData("pgbackup_drill_0123456789AB")]             // upper case: not PgBackup's
        [InlineData("mypgbackup_drill_0123456789ab")]
        [InlineData("pgbackup_scratch_0123456789ab")]
        public void OtherNamesAreNotReserved(string name) => Assert.False(ScratchNames.IsReserved(name));

        [Fact]
        public void TheMarkRoundTripsThroughTheComment()
        {
            var now = new DateTime(2026, 3, 15, 14, 30, 22, 123, DateTimeKind.Utc);
            var mark = ScratchMark.ForThisProcess(ScratchKind.Drill, now);
            var comment = mark.ToComment();
            Assert.StartsWith(ScratchMark.Prefix, comment);
            var back = ScratchMark.Parse(comment)!;
            Assert.Equal(ScratchKind.Drill, back.Kind);
            Assert.Equal(Environment.MachineName, back.Host);
            Assert.Equal(Environment.ProcessId, back.ProcessId);
            Assert.Equal(now, back.Created);
            Assert.Equal(ProcessIdentity.StartKey, back.ProcessStartKey);
            Assert.False(back.Kept);
            Assert.True(ScratchMark.Parse((back with { Kept = true }).ToComment())!.Kept);
        }

        [Theory]
        [InlineData(null)]
        [InlineData("the app's database")]
        [InlineData("PgBackup scratch database: not json")]
        [InlineData("PgBackup scratch database: {\"kind\":\"drill\"}")]
        [InlineData("PgBackup scratch database: {\"kind\":\"backup\",\"host\":\"h\",\"pid\":1,\"processStart\":\"2026-01-01T00:00:00.000Z\",\"processStartKey\":\"k\",\"created\":\"2026-01-01T00:00:00.000Z\"}")]
        [InlineData("Note: PgBackup scratch database: {\"kind\":\"drill\",\"host\":\"h\",\"pid\":1,\"processStart\":\"2026-01-01T00:00:00.000Z\",\"processStartKey\":\"k\",\"created\":\"2026-01-01T00:00:00.000Z\"}")]
        public void OtherCommentsAreNoMark(string? comment) => Assert.Null(ScratchMark.Parse(comment));

        private static ScratchDatabase Describe(int connections, ProcessLiveness process, TimeSpan age, bool kept = false)
        {
            var created = new DateTime(2026, 3, 15, 0, 0, 0, DateTimeKind.Utc);
            var mark = new ScratchMark { Kind = ScratchKind.Restore, Host = "h", ProcessId = 7, Created = created, Kept = kept };
            return ScratchDatabases.Describe("app_pgbackup_restore_0123456789ab", mark, connections, created + age, process, 1 << 20, "db:5432");
        }

        [Fact]
        public void StaleMeansNoSessionsAndAJobKnownToBeOver()
        {
            var hour = TimeSpan.FromHours(1);
            var days = TimeSpan.FromDays(3);
            // Its process has ended (on this machine): stale at once.
            Assert.Equal(ScratchStatus.Stale, Describe(0, ProcessLiveness.Gone, hour).Status);
            // Elsewhere (or unknown): only after a day.
            Assert.Equal(ScratchStatus.Recent, Describe(0, ProcessLiveness.Unknown, hour).Status);
            Assert.Equal(ScratchStatus.Stale, Describe(0, ProcessLiveness.Unknown, days).Status);
            // Never: with sessions, while its process runs (however old), or kept on purpose.
            Assert.Equal(ScratchStatus.InUse, Describe(1, ProcessLiveness.Gone, days).Status);
            Assert.Equal(ScratchStatus.Running, Describe(0, ProcessLiveness.Running, days).Status);
            Assert.Equal(ScratchStatus.Kept, Describe(0, ProcessLiveness.Gone, days, kept: true).Status);
            foreach (var d in new[] { Describe(1, ProcessLiveness.Gone, days), Describe(0, ProcessLiveness.Running, days), Describe(0, ProcessLiveness.Gone, days, true), Describe(0, ProcessLiveness.Unknown, hour) })
                Assert.False(d.Stale, d.Status.ToString());
            Assert.Contains("'app_pgbackup_restore_0123456789ab' (1.0 MB, a restore database made 2026-03-15 00:00:00 UTC by process 7 on host h, which has ended)",
                Describe(0, ProcessLiveness.Gone, hour).Describe());
        }

        [Fact]
        public void RecognisesThisProcessAndEndedOnes()
        {
            Assert.Equal(ProcessLiveness.Running, ProcessIdentity.Check(Environment.MachineName, Environment.ProcessId, ProcessIdentity.StartKey));
            // The same id with another start: a reused id.
            Assert.Equal(ProcessLiveness.Gone, ProcessIdentity.Check(Environment.MachineName, Environment.ProcessId, ProcessIdentity.StartKey + "0"));
            Assert.Equal(ProcessLiveness.Unknown, ProcessIdentity.Check("another-machine", Environment.ProcessId, ProcessIdentity.StartKey));
            // A child that lives until its start has been read (one that ends at once may be gone before that).
            using var p = Process.Start(new ProcessStartInfo("/bin/sh", "-c \"sleep 30\"") { UseShellExecute = false })!;
            var key = ProcessIdentity.StartKeyOf(p);
            p.Kill();
            p.WaitForExit();
            Assert.NotNull(key);
            Assert.Equal(ProcessLiveness.Gone, ProcessIdentity.Check(Environment.MachineName, p.Id, key!));
        }

        [Fact]
        public void ReadsTheStartFromProcStatWhateverTheCommandName()
        {
            var stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
            Assert.Equal(("987654", false), ProcessIdentity.LinuxStart(stat));
            Assert.True(ProcessIdentity.LinuxStart(stat.Replace(") S ", ") Z ")).Ended);
        }
    }
}
