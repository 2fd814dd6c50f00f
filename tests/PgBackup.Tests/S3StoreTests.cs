using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using Amazon.S3.Model;
using PgBackup;
using PgBackup.TestHarness;
using Xunit;
using static PgBackup.Tests.S3TestServer;

namespace PgBackup.Tests
{
    /// <summary>The S3 store against the real gateway that build.ps1 starts (Ceph RADOS Gateway).</summary>
    [Collection(S3UploadsCollection.Name)]
    public sealed class S3StoreTests
    {
        private static S3TestServer Server => S3TestServer.Current!;
        private static readonly CancellationToken None = CancellationToken.None;

        [S3Fact]
        public void WritesASmallObjectWithOnePutAndMarksItWhileItIsWritten()
        {
            var bucket = Server.NewBucket();
            using var store = new S3Store($"s3://{bucket}/pg", Server.Options());
            using var c = Server.Client();
            const string name = "backup_app_20260101_030000.sql.gz";
            var data = RandomBytes(1000);
            long before = GC.GetAllocatedBytesForCurrentThread();
            using (var w = store.OpenWrite(name, None))
            {
                // A small object (a manifest) never takes a whole part's buffer (5 MiB).
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 2 << 20, $"allocated {(GC.GetAllocatedBytesForCurrentThread() - before) >> 10} KiB");
                Assert.Equal(new[] { "pg/" + name + ".partial" }, S3TestServer.Keys(c, bucket));
                w.Stream.Write(data, 0, data.Length);
                Assert.DoesNotContain("pg/" + name, S3TestServer.Keys(c, bucket));
                w.Finish(None);
                Assert.Contains("pg/" + name, S3TestServer.Keys(c, bucket));
                // Uploaded, no manifest yet: interrupted if it stopped here, never a backup of another tool.
                var listed = BackupCatalog.List(store, NullLog.Instance, None).Single();
                Assert.Equal(BackupStatus.Incomplete, listed.Status);
                Assert.Contains("manifest was never written", listed.StatusDetail);
                w.Commit(None);
            }
            Assert.Equal(new[] { "pg/" + name }, S3TestServer.Keys(c, bucket));
            Assert.Equal(data, ReadAll(store, name));
            var entry = store.Get(name, None)!;
            Assert.Equal(1000, entry.SizeBytes);
            Assert.False(entry.IsDirectory);
            Assert.Equal($"s3://{bucket}/pg/{name}", store.GetPath(name));
            Assert.Null(store.GetLocalPath(name));
            // No manifest and no marker: a backup made by another tool (aws s3 cp of the guide's file).
            Assert.Equal(BackupStatus.NoManifest, BackupCatalog.List(store, NullLog.Instance, None).Single().Status);
        }

        [S3Fact]
        public void UploadsLargeObjectsInPartsWithBoundedMemoryAndReadsThemBack()
        {
            var bucket = Server.NewBucket();
            using var store = new S3Store($"s3://{bucket}/", Server.Options(partSizeMiB: 5, concurrency: 2));
            using var c = Server.Client();
            const string name = "backup_app_20260101_030000.dump";
            var data = RandomBytes((17 << 20) + 12345);
            // This thread's allocations: the part buffers are allocated by the writer (the SDK's own work runs on
            // pool threads, and other test classes run in parallel, so the process's total says nothing).
            long before = GC.GetAllocatedBytesForCurrentThread();
            using (var w = store.OpenWrite(name, None))
            {
                for (int i = 0; i < data.Length; i += 100_000)
                    w.Stream.Write(data, i, Math.Min(100_000, data.Length - i));
                Assert.Equal(data.Length, w.BytesWritten);
                // Three full parts went while writing; nothing is visible yet.
                Assert.Single(S3TestServer.Uploads(c, bucket));
                Assert.DoesNotContain(name, S3TestServer.Keys(c, bucket));
                w.Finish(None);
                w.Commit(None);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            // Part buffers: at most (concurrency + 1) x 5 MiB; never the whole 17 MiB twice.
            Assert.True(allocated < 40L << 20, $"allocated {allocated / (1 << 20)} MiB");
            Assert.Empty(S3TestServer.Uploads(c, bucket));
            var head = c.GetObjectMetadataAsync(bucket, name).GetAwaiter().GetResult();
            Assert.Equal(data.Length, head.ContentLength);
            Assert.EndsWith("-4\"", head.ETag); // four parts
            Assert.Equal(Sha(data), Sha(ReadAll(store, name)));
        }

        [S3Fact]
        public void AnAbortedUploadLeavesNothing()
        {
            var bucket = Server.NewBucket();
            using var store = new S3Store($"s3://{bucket}/x/", Server.Options(partSizeMiB: 5));
            using var c = Server.Client();
            var data = RandomBytes(12 << 20);
            using (var w = store.OpenWrite("backup_app_20260101_030000.sql", None))
            {
                w.Stream.Write(data, 0, data.Length);
                Assert.Single(S3TestServer.Uploads(c, bucket));
                w.Abort();
            }
            Assert.Empty(S3TestServer.Keys(c, bucket));
            Assert.Empty(S3TestServer.Uploads(c, bucket));
            // Abort after the upload completed deletes the object too.
            using (var w = store.OpenWrite("backup_app_20260101_040000.sql", None))
            {
                w.Stream.Write(data, 0, 100);
                w.Finish(None);
            } // disposed without Commit
            Assert.Empty(S3TestServer.Keys(c, bucket));
        }

        [S3Fact]
        public void RefusesToOverwriteAnExistingObject()
        {
            var bucket = Server.NewBucket();
            using var store = new S3Store($"s3://{bucket}/", Server.Options());
            using var c = Server.Client();
            c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "backup_app_20260101_030000.sql.gz", ContentBody = "old" }).GetAwaiter().GetResult();
            var e = Assert.Throws<PgBackupException>(() => store.OpenWrite("backup_app_20260101_030000.sql.gz", None));
            Assert.Equal(ErrorIds.BackupExists, e.ErrorId);
            Assert.Equal("old", System.Text.Encoding.UTF8.GetString(S3TestServer.ReadAll(store, "backup_app_20260101_030000.sql.gz")));

            // The check is a one-key listing under the name: keys that merely start with it (a manifest, a folder
            // of the same name) are not the object itself.
            foreach (var key in new[] { "backup_app_20260101_050000.sql.gz.json", "backup_app_20260101_050000.sql.gz/x", "backup_app_20260101_050000.sql.gz0" })
                c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = "x" }).GetAwaiter().GetResult();
            using (var w = store.OpenWrite("backup_app_20260101_050000.sql.gz", None))
            {
                w.Stream.Write(new byte[] { 1, 2, 3 }, 0, 3);
                w.Commit(None);
            }
            Assert.Equal(new byte[] { 1, 2, 3 }, S3TestServer.ReadAll(store, "backup_app_20260101_050000.sql.gz"));
        }

        [S3Fact]
        public void ListsMoreThanOnePageAndDeletesFoldersOfMoreThanOneBatch()
        {
            var bucket = Server.NewBucket();
            using var c = Server.Client();
            var names = Enumerable.Range(0, 1105).Select(i => $"p/backup_db{i % 7}_2025{(i % 12) + 1:00}{(i % 28) + 1:00}_{i % 24:00}{i % 60:00}{i / 60:00}.sql.gz").Distinct().ToList();
            var folderFiles = Enumerable.Range(0, 1003).Select(i => $"p/backup_big_20260101_000000.dir/{i}.dat").ToList();
            S3TestServer.PutMany(c, bucket, names.Concat(folderFiles).Append("p/notes.txt").Append("p/sub/deeper.txt"));
            using var store = new S3Store($"s3://{bucket}/p", Server.Options());
            var entries = store.List(null, None);
            Assert.Equal(names.Count + 1, entries.Count(e => !e.IsDirectory));
            var folder = entries.Single(e => e.Name == "backup_big_20260101_000000.dir");
            Assert.True(folder.IsDirectory);
            Assert.Equal(1003, folder.SizeBytes);
            Assert.Contains(entries, e => e.Name == "sub" && e.IsDirectory);
            Assert.Equal(1003, store.List("backup_big_20260101_000000.dir", None).Count);
            var backups = BackupCatalog.List(store, NullLog.Instance, None);
            Assert.Equal(names.Count + 1, backups.Count);

            store.Delete("backup_big_20260101_000000.dir", None);
            Assert.Empty(S3TestServer.Keys(c, bucket, "p/backup_big_20260101_000000.dir/"));
            Assert.Null(store.Get("backup_big_20260101_000000.dir", None));
            Assert.Equal(names.Count, BackupCatalog.List(store, NullLog.Instance, None).Count);
        }

        [S3Fact]
        public void SweepsMarkersTheirDataAndAbandonedUploadsButNothingElse()
        {
            var bucket = Server.NewBucket();
            using var c = Server.Client();
            // Crashed after the upload, before the manifest: data + marker.
            S3TestServer.PutMany(c, bucket, new[] { "backup_a_20260101_000000.dump", "backup_a_20260101_000000.dump.partial",
                // Crashed after the manifest, before the marker went: a complete backup.
                "backup_b_20260101_000000.sql.gz", "backup_b_20260101_000000.sql.gz.partial",
                // The guide's backup and an unrelated object.
                "backup_c_20260101_000000.sql.gz", "other.partial" });
            var manifest = new BackupManifest { Name = "backup_b_20260101_000000.sql.gz", Database = "b", Sha256 = new string('0', 64), SizeBytes = 1, StartTime = DateTime.UtcNow };
            c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "backup_b_20260101_000000.sql.gz.json", InputStream = new MemoryStream(manifest.ToJsonBytes()) }).GetAwaiter().GetResult();
            // A process killed mid-upload: a multipart upload with one part, and one of another tool's.
            var upload = c.InitiateMultipartUploadAsync(bucket, "backup_d_20260101_000000.sql.gz").GetAwaiter().GetResult();
            c.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "backup_d_20260101_000000.sql.gz", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(new byte[100]) }).GetAwaiter().GetResult();
            c.InitiateMultipartUploadAsync(bucket, "videos/cat.mp4").GetAwaiter().GetResult();
            using var store = new S3Store($"s3://{bucket}/", Server.Options());

            var before = BackupCatalog.List(store, NullLog.Instance, None).ToDictionary(b => b.Name);
            Assert.Equal(BackupStatus.Incomplete, before["backup_a_20260101_000000.dump"].Status);
            Assert.Equal(BackupStatus.Complete, before["backup_b_20260101_000000.sql.gz"].Status);
            Assert.Equal(BackupStatus.NoManifest, before["backup_c_20260101_000000.sql.gz"].Status);
            Assert.Equal(BackupStatus.Incomplete, BackupCatalog.Get(store, "backup_a_20260101_000000.dump", NullLog.Instance, None).Status);

            // Nothing is a day old: nothing goes.
            Assert.Empty(BackupCatalog.SweepStalePartials(store, TimeSpan.FromHours(24), NullLog.Instance, None));
            Thread.Sleep(1100);
            var swept = BackupCatalog.SweepStalePartials(store, TimeSpan.FromMilliseconds(500), NullLog.Instance, None);
            Assert.Equal(new[] { "backup_a_20260101_000000.dump", "backup_a_20260101_000000.dump.partial", "backup_b_20260101_000000.sql.gz.partial", "backup_d_20260101_000000.sql.gz" }, swept.OrderBy(s => s, StringComparer.Ordinal));
            Assert.Equal(new[] { "backup_b_20260101_000000.sql.gz", "backup_b_20260101_000000.sql.gz.json", "backup_c_20260101_000000.sql.gz", "other.partial" },
                S3TestServer.Keys(c, bucket).OrderBy(k => k, StringComparer.Ordinal));
            Assert.Equal(new[] { "videos/cat.mp4" }, S3TestServer.Uploads(c, bucket));
        }

        [S3Fact]
        public void MapsErrorsToStableIdsWithoutTheSecret()
        {
            var bucket = Server.NewBucket();
            const string wrongSecret = "wrong-secret-0123456789";
            using (var wrong = new S3Store($"s3://{bucket}/", Server.Options(secret: wrongSecret)))
            {
                var e = Assert.Throws<PgBackupException>(() => wrong.List(null, None));
                Assert.Equal(ErrorIds.S3AccessDenied, e.ErrorId);
                Assert.Equal(ErrorKind.AuthenticationError, e.Kind);
                Assert.DoesNotContain(wrongSecret, e.Message);
                e = Assert.Throws<PgBackupException>(() => wrong.OpenWrite("backup_a_20260101_000000.sql", None));
                Assert.Equal(ErrorIds.S3AccessDenied, e.ErrorId);
            }
            using (var missing = new S3Store($"s3://no-such-bucket-{Guid.NewGuid():n}/x", Server.Options()))
            {
                var e = Assert.Throws<PgBackupException>(() => missing.List(null, None));
                Assert.Equal(ErrorIds.S3BucketNotFound, e.ErrorId);
                e = Assert.Throws<PgBackupException>(() => missing.OpenWrite("backup_a_20260101_000000.sql", None));
                Assert.Equal(ErrorIds.S3BucketNotFound, e.ErrorId);
            }
            using (var stranger = new S3Store($"s3://{bucket}/", Server.Options(access: Server.OtherAccessKey, secret: Server.OtherSecretKey)))
            {
                var e = Assert.Throws<PgBackupException>(() => stranger.OpenWrite("backup_a_20260101_000000.sql", None));
                Assert.Equal(ErrorIds.S3AccessDenied, e.ErrorId);
                Assert.Equal(ErrorKind.PermissionDenied, e.Kind);
            }
            using (var store = new S3Store($"s3://{bucket}/", Server.Options()))
            {
                var e = Assert.Throws<PgBackupException>(() => store.OpenRead("backup_a_20260101_000000.sql", None));
                Assert.Equal(ErrorIds.PathNotFound, e.ErrorId);
            }
            using (var nothing = new S3Store($"s3://{bucket}/", Server.Options(endpoint: $"http://127.0.0.1:{TestPorts.Closed()}")))
            {
                var e = Assert.Throws<PgBackupException>(() => nothing.List(null, None));
                Assert.Equal(ErrorIds.S3RequestFailed, e.ErrorId);
                Assert.Equal(ErrorKind.ConnectionError, e.Kind);
            }
        }

        [S3Fact]
        public void AnUploadCutOffMidWayFailsClearlyAndLeavesNothing()
        {
            var bucket = Server.NewBucket();
            using var proxy = new CutProxy("127.0.0.1", Server.Port) { CutUploadAfterBytes = 2 << 20 };
            using var store = new S3Store($"s3://{bucket}/", Server.Options(partSizeMiB: 5, endpoint: proxy.Url));
            using var c = Server.Client();
            var data = RandomBytes(16 << 20);
            var w = store.OpenWrite("backup_app_20260101_030000.sql", None);
            var e = Assert.Throws<PgBackupException>(() =>
            {
                for (int i = 0; i < data.Length; i += 1 << 20) w.Stream.Write(data, i, 1 << 20);
                w.Finish(None);
            });
            w.Abort();
            w.Dispose();
            Assert.Equal(ErrorIds.S3UploadFailed, e.ErrorId);
            Assert.Equal(ErrorKind.ConnectionError, e.Kind);
            Assert.True(proxy.Cuts > 0);
            Assert.Empty(S3TestServer.Keys(c, bucket));
            Assert.Empty(S3TestServer.Uploads(c, bucket));
        }

        [S3Fact]
        public void APartWhoseConnectionIsCutIsSentAgainAndTheUploadCompletes()
        {
            var bucket = Server.NewBucket();
            // One connection is cut once it has carried 3 MiB: in the middle of a part; the SDK sends it again.
            using var proxy = new CutProxy("127.0.0.1", Server.Port) { CutUploadAfterBytes = 3 << 20, UploadCuts = 1 };
            using var store = new S3Store($"s3://{bucket}/", Server.Options(partSizeMiB: 5, concurrency: 1, endpoint: proxy.Url));
            using var c = Server.Client();
            const string name = "backup_app_20260101_030000.sql.gz";
            var data = RandomBytes((21 << 20) + 5);
            using (var w = store.OpenWrite(name, None))
            {
                w.Stream.Write(data, 0, data.Length);
                w.Commit(None);
            }
            Assert.Equal(1, proxy.Cuts);
            Assert.Empty(S3TestServer.Uploads(c, bucket));
            Assert.Equal(Sha(data), Sha(ReadAll(store, name)));
        }

        [S3Theory]
        [InlineData("")]
        [InlineData("Prod DB/ü+=&~/")]
        public void KeepsAPrefixOfAnyCharactersThroughABackupsRequests(string prefix)
        {
            var bucket = Server.NewBucket();
            using var store = new S3Store($"s3://{bucket}/{prefix}", Server.Options());
            using var c = Server.Client();
            const string name = "backup_app_20260101_030000.sql.gz";
            // The name check, the marker, the multipart upload and its parts, the marker's removal; then a small object.
            var data = RandomBytes((11 << 20) + 777);
            using (var w = store.OpenWrite(name, None))
            {
                w.Stream.Write(data, 0, data.Length);
                w.Commit(None);
            }
            var manifest = System.Text.Encoding.UTF8.GetBytes("{\"manifest\": true}");
            using (var w = store.OpenWrite(name + ".json", None))
            {
                w.Stream.Write(manifest, 0, manifest.Length);
                w.Commit(None);
            }
            Assert.Equal(new[] { prefix + name, prefix + name + ".json" }, S3TestServer.Keys(c, bucket).OrderBy(k => k, StringComparer.Ordinal));
            var listed = store.List(null, None).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            Assert.Equal(new[] { name, name + ".json" }, listed.Select(e => e.Name));
            Assert.Equal(new[] { (11L << 20) + 777, manifest.Length }, listed.Select(e => e.SizeBytes));
            Assert.Equal(Sha(data), Sha(ReadAll(store, name)));
            Assert.Empty(store.AbortStaleUploads(DateTime.UtcNow.AddDays(1), None));
            store.Delete(name + ".json", None);
            Assert.Equal(new[] { prefix + name }, S3TestServer.Keys(c, bucket));
        }

        [S3Fact]
        public void AReadCutOffMidWayResumesWhereItStopped()
        {
            var bucket = Server.NewBucket();
            using var c = Server.Client();
            var data = RandomBytes(3 << 20);
            c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "backup_app_20260101_030000.dump", InputStream = new MemoryStream(data) }).GetAwaiter().GetResult();
            using var proxy = new CutProxy("127.0.0.1", Server.Port) { CutDownloadAfterBytes = 1 << 20, DownloadCuts = 2 };
            using var store = new S3Store($"s3://{bucket}/", Server.Options(endpoint: proxy.Url));
            Assert.Equal(Sha(data), Sha(ReadAll(store, "backup_app_20260101_030000.dump")));
            Assert.Equal(2, proxy.Cuts);
        }
    }
}
