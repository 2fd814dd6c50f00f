using System;
using System.IO;
using System.Linq;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public sealed class CatalogTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-catalog-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        private void Write(string name, int size, DateTime? mtime = null)
        {
            var path = Path.Combine(_dir, name);
            File.WriteAllBytes(path, new byte[size]);
            if (mtime.HasValue) File.SetLastWriteTimeUtc(path, mtime.Value);
        }

        private void WriteBackup(string name, int size, DateTime start)
        {
            Write(name, size);
            var m = new BackupManifest { Name = name, Database = "app", Sha256 = new string('0', 64), SizeBytes = size, StartTime = start, EndTime = start.AddSeconds(1) };
            File.WriteAllBytes(Path.Combine(_dir, name + ".json"), m.ToJsonBytes());
        }

        [Fact]
        public void ListsOwnGuideAndIncompleteBackupsNewestFirstIgnoringOtherFiles()
        {
            var now = new DateTime(2026, 1, 10, 0, 0, 0, DateTimeKind.Utc);
            WriteBackup("backup_app_20260109_030000.sql.gz", 100, now.AddDays(-1));
            Write("backup_app_20260108_030000.sql.gz", 500, mtime: now);             // the guide's: no manifest
            Write("backup_app_20260107_030000.sql.gz", 20);                          // the guide's, empty gzip
            Write("backup_app_20260110_030000.sql.gz.partial", 50);                  // interrupted
            WriteBackup("backup_app_20260106_030000.dump", 100, now.AddDays(-4));
            File.WriteAllBytes(Path.Combine(_dir, "backup_app_20260106_030000.dump"), new byte[60]); // truncated
            File.WriteAllBytes(Path.Combine(_dir, "backup_app_20260105_030000.sql.zst.json"),
                new BackupManifest { Name = "backup_app_20260105_030000.sql.zst", Database = "app", Sha256 = new string('0', 64), StartTime = now.AddDays(-5) }.ToJsonBytes()); // data missing
            Write("backup_app_20260104_030000.dump", 10);                            // ours, manifest lost
            Write("notes.txt", 3);
            Write("backup_app.sql.gz", 3);

            var list = BackupCatalog.List(new LocalStore(_dir, false), NullLog.Instance, CancellationToken.None);
            Assert.Equal(new[]
            {
                "backup_app_20260110_030000.sql.gz", "backup_app_20260109_030000.sql.gz", "backup_app_20260108_030000.sql.gz",
                "backup_app_20260107_030000.sql.gz", "backup_app_20260106_030000.dump", "backup_app_20260105_030000.sql.zst",
                "backup_app_20260104_030000.dump",
            }, list.Select(b => b.Name));
            Assert.Equal(new[]
            {
                BackupStatus.Incomplete, BackupStatus.Complete, BackupStatus.NoManifest, BackupStatus.NoManifest,
                BackupStatus.Incomplete, BackupStatus.Incomplete, BackupStatus.Incomplete,
            }, list.Select(b => b.Status));
            Assert.Equal(new[] { false, true, true, false, false, false, false }, list.Select(b => b.IsGood));
            Assert.Equal(new DateTime(2026, 1, 8, 3, 0, 0, DateTimeKind.Utc), list[2].StartTime);
        }

        [Fact]
        public void APartialFileLeftByAKilledWriterIsReplacedOneBeingWrittenIsNot()
        {
            var store = new LocalStore(_dir, false);
            const string name = "backup_app_20260110_030000.sql.gz.gpg";
            Write(name + ".partial", 5);
            using (var writer = store.OpenWrite(name, CancellationToken.None))
            {
                writer.Stream.Write(new byte[] { 1, 2, 3 });
                // While it writes, the same name cannot be written again.
                var e = Assert.Throws<PgBackupException>(() => store.OpenWrite(name, CancellationToken.None));
                Assert.Equal(ErrorIds.BackupExists, e.ErrorId);
                writer.Commit(CancellationToken.None);
            }
            Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(Path.Combine(_dir, name)));
            Assert.False(File.Exists(Path.Combine(_dir, name + ".partial")));
        }

        [Fact]
        public void SweepsOnlyStalePartials()
        {
            Write("backup_app_20260110_030000.sql.gz.partial", 5, DateTime.UtcNow.AddDays(-2));
            Write("backup_app_20260111_030000.sql.gz.partial", 5, DateTime.UtcNow);
            Write("other.partial", 5, DateTime.UtcNow.AddDays(-2));
            var swept = BackupCatalog.SweepStalePartials(new LocalStore(_dir, false), TimeSpan.FromHours(24), NullLog.Instance, CancellationToken.None);
            Assert.Equal(new[] { "backup_app_20260110_030000.sql.gz.partial" }, swept);
            Assert.True(File.Exists(Path.Combine(_dir, "other.partial")));
        }
    }
}
