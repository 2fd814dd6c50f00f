using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>Retention and removal over real files: the catalog's removal, group listing, and generic candidates.</summary>
    public sealed class RetentionCatalogTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-retention-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        private string WriteBackup(string name, DateTime start, string database = "app")
        {
            File.WriteAllBytes(Path.Combine(_dir, name), new byte[100]);
            var m = new BackupManifest { Name = name, Database = database, Sha256 = new string('0', 64), SizeBytes = 100, StartTime = start, EndTime = start.AddSeconds(1) };
            File.WriteAllBytes(Path.Combine(_dir, name + ".json"), m.ToJsonBytes());
            return Path.Combine(_dir, name);
        }

        private List<BackupInfo> List() => BackupCatalog.List(new LocalStore(_dir, false), NullLog.Instance, CancellationToken.None);

        [Fact]
        public void RemoveAtDeletesDataAndManifestOnlyAndRefusesOtherPaths()
        {
            var a = WriteBackup("backup_app_20260301_030000.sql.gz", new DateTime(2026, 3, 1, 3, 0, 0, DateTimeKind.Utc));
            var b = WriteBackup("backup_app_20260302_030000.sql.gz", new DateTime(2026, 3, 2, 3, 0, 0, DateTimeKind.Utc));
            File.WriteAllText(Path.Combine(_dir, "README.txt"), "x");
            BackupCatalog.RemoveAt(a, StoreOptions.Default, NullLog.Instance, CancellationToken.None);
            Assert.Equal(new[] { "README.txt", "backup_app_20260302_030000.sql.gz", "backup_app_20260302_030000.sql.gz.json" },
                Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
            Assert.Equal(ErrorIds.NotABackup, Assert.Throws<PgBackupException>(() => BackupCatalog.RemoveAt(Path.Combine(_dir, "README.txt"), StoreOptions.Default, NullLog.Instance, CancellationToken.None)).ErrorId);
            Assert.Equal(ErrorIds.NotABackup, Assert.Throws<PgBackupException>(() => BackupCatalog.GetAt(_dir, StoreOptions.Default, NullLog.Instance, CancellationToken.None)).ErrorId);
            Assert.Equal(ErrorIds.PathNotFound, Assert.Throws<PgBackupException>(() => BackupCatalog.RemoveAt(a, StoreOptions.Default, NullLog.Instance, CancellationToken.None)).ErrorId);
            // Given by its manifest's path, the backup goes as a whole.
            Assert.Equal(b, BackupCatalog.GetAt(b + ".json", StoreOptions.Default, NullLog.Instance, CancellationToken.None).Path);
            BackupCatalog.RemoveAt(b + ".json", StoreOptions.Default, NullLog.Instance, CancellationToken.None);
            Assert.Equal(new[] { "README.txt" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        }

        [Fact]
        public void PlanningAndRemovingTwiceRemovesNothingMore()
        {
            var start = new DateTime(2025, 1, 1, 3, 0, 0, DateTimeKind.Utc);
            for (int i = 0; i < 60; i++)
                WriteBackup($"backup_app_{start.AddDays(i * 7):yyyyMMdd_HHmmss}.sql.gz", start.AddDays(i * 7));
            WriteBackup("backup_crm_20250101_030000.dump", start, "crm");
            File.WriteAllBytes(Path.Combine(_dir, "backup_app_20240101_030000.sql.gz.partial"), new byte[5]);
            var policy = new RetentionPolicy { Last = 3, Weekly = 4, Monthly = 6, TimeZone = TimeZoneInfo.Utc };

            var plan = RetentionPlanner.Plan(List(), policy);
            foreach (var d in plan.Where(d => d.Action == RetentionAction.Remove)) d.Candidate.Remove(NullLog.Instance, CancellationToken.None);
            var after = List();
            Assert.Equal(plan.Where(d => d.Action == RetentionAction.Keep).Select(d => d.Id).OrderBy(x => x), after.Select(b => b.Path).OrderBy(x => x));
            Assert.Contains(after, b => b.Database == "crm");
            Assert.Contains(after, b => b.Status == BackupStatus.Incomplete);
            Assert.All(RetentionPlanner.Plan(after, policy), d => Assert.Equal(RetentionAction.Keep, d.Action));
            // Only data and manifests were removed: every remaining backup still has both.
            Assert.All(after.Where(b => b.IsGood), b => Assert.True(File.Exists(b.Path) && File.Exists(b.ManifestPath)));
            Assert.Equal(after.Count(b => b.IsGood) * 2 + 1, Directory.GetFiles(_dir).Length);
        }

        [Fact]
        public void ListGroupsOfFindsTheWholeGroupAndNothingElse()
        {
            var t = new DateTime(2026, 3, 1, 3, 0, 0, DateTimeKind.Utc);
            WriteBackup("backup_app_20260301_030000.sql.gz", t);
            WriteBackup("backup_app_20260302_030000.sql.gz", t.AddDays(1));
            WriteBackup("backup_crm_20260302_030000.sql.gz", t.AddDays(1), "crm");
            var newest = BackupCatalog.GetAt(Path.Combine(_dir, "backup_app_20260302_030000.sql.gz"), StoreOptions.Default, NullLog.Instance, CancellationToken.None);
            var group = BackupCatalog.ListGroupsOf(new[] { newest }, NullLog.Instance, CancellationToken.None);
            Assert.Equal(new[] { "backup_app_20260302_030000.sql.gz", "backup_app_20260301_030000.sql.gz" }, group.Select(b => b.Name));
        }

        [Fact]
        public void GenericCandidatesReadTimeGroupAndIdentityFromProperties()
        {
            var props = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
            {
                ["id"] = "br-cool-42", ["created_at"] = "2026-03-15T14:30:22Z", ["Database"] = "neondb", ["Location"] = "project-1",
            };
            var c = GenericRetentionCandidate.From("branch", n => props.TryGetValue(n, out var v) ? v : null);
            Assert.Equal("br-cool-42", c.Id);
            Assert.Equal(new DateTime(2026, 3, 15, 14, 30, 22, DateTimeKind.Utc), c.Time);
            Assert.Equal(DateTimeKind.Utc, c.Time.Kind);
            Assert.Equal("neondb @ project-1", c.Group);
            Assert.True(c.IsGood);
            // It is not a backup path: removing it is refused.
            Assert.Equal(ErrorIds.RemoveFailed, Assert.Throws<PgBackupException>(() => c.Remove(NullLog.Instance, CancellationToken.None)).ErrorId);

            var offset = new Dictionary<string, object?> { ["StartTime"] = new DateTimeOffset(2026, 3, 15, 16, 0, 0, TimeSpan.FromHours(2)), ["Group"] = "g", ["Name"] = "n", ["IsGood"] = false };
            var o = GenericRetentionCandidate.From("x", n => offset.TryGetValue(n, out var v) ? v : null);
            Assert.Equal(new DateTime(2026, 3, 15, 14, 0, 0, DateTimeKind.Utc), o.Time);
            Assert.False(o.IsGood);

            var noGroup = new Dictionary<string, object?> { ["Time"] = DateTime.UtcNow, ["Id"] = "x" };
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => GenericRetentionCandidate.From("x", n => noGroup.TryGetValue(n, out var v) ? v : null)).ErrorId);
            var noTime = new Dictionary<string, object?> { ["Group"] = "g", ["Id"] = "x", ["LastModified"] = DateTime.UtcNow };
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => GenericRetentionCandidate.From("x", n => noTime.TryGetValue(n, out var v) ? v : null)).ErrorId);
        }

        [Fact]
        public void GenericCandidatesWithABackupPathAreRemovedLikeBackups()
        {
            var path = WriteBackup("backup_app_20260301_030000.sql.gz", new DateTime(2026, 3, 1, 3, 0, 0, DateTimeKind.Utc));
            var props = new Dictionary<string, object?> { ["Path"] = path, ["StartTime"] = DateTime.UtcNow, ["Database"] = "app" };
            var c = GenericRetentionCandidate.From("x", n => props.TryGetValue(n, out var v) ? v : null);
            c.Remove(NullLog.Instance, CancellationToken.None);
            Assert.Empty(Directory.GetFiles(_dir));
        }
    }
}
