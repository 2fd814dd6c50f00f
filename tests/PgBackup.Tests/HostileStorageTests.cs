using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Amazon.S3.Model;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// Everything read from storage is hostile: names from manifests, listings and S3 keys stay inside their store or
    /// are refused (UnsafeName), and manifests that are not JSON, truncated, huge or wrongly typed are refused
    /// (ManifestInvalid). The cmdlets' side of it (a sentinel file outside the store keeps its bytes and time) is in
    /// tests/HostileStorage.Tests.ps1.
    /// </summary>
    public sealed class HostileStorageTests : IDisposable
    {
        private static readonly CancellationToken None = CancellationToken.None;
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-hostile-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        public static readonly TheoryData<string> Refused = new TheoryData<string>
        {
            "", "/etc/passwd", "\\etc\\passwd", "C:\\Windows\\win.ini", "C:x", "c:/x", "\\\\server\\share\\x", "//server/share/x",
            "..", ".", "../x", "a/../../x", "a\\..\\..\\x", "a/./b", "a//b", "a/", "a\0b", "a\nb", "\u001b[31mred", "a\tb",
            "x.", "x ", "a:stream", "CON", "nul.txt", "com1", "LPT9.log", "a<b", "a|b", "a?b", "a*b", "a\"b", "a\\b",
            new string('a', 256), string.Join("/", Enumerable.Repeat(new string('a', 200), 6)),
        };

        [Theory]
        [MemberData(nameof(Refused))]
        public void TheRuleRefusesNamesThatCouldLeaveTheStore(string name)
        {
            Assert.NotNull(StoreName.Problem(name));
            var e = Assert.Throws<PgBackupException>(() => StoreName.LocalPath(_dir, name));
            Assert.Equal(ErrorIds.UnsafeName, e.ErrorId);
            Assert.True(e.Message.IndexOf('\u001b') < 0, "control characters are not printed");
            using var store = new LocalStore(_dir, false);
            Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => store.OpenRead(name, None)).ErrorId);
            Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => store.Delete(name, None)).ErrorId);
            Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => store.OpenWrite(name, None)).ErrorId);
            Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => new S3Store("s3://bucket/pg/", StoreOptions.Default).GetPath(name)).ErrorId);
        }

        [Theory]
        [InlineData("backup_app_20240101_000000.sql.gz")]
        [InlineData("backup_Tëst db_20240101_000000_2.dump.gpg.json")]
        [InlineData("backup_app_20240101_000000.dir/toc.dat")]
        [InlineData("backup_app_20240101_000000.dir/sub/3012.dat.gz")]
        [InlineData("a..b")]
        public void TheRuleAcceptsNamesInsideTheStore(string name)
        {
            Assert.Null(StoreName.Problem(name));
            Assert.StartsWith(_dir + Path.DirectorySeparatorChar, StoreName.LocalPath(_dir, name));
        }

        [Fact]
        public void SymbolicLinksInAStoreAreNeitherListedNorFollowedNorDeletedThrough()
        {
            var outside = Directory.CreateTempSubdirectory("pgbackup-outside-").FullName;
            try
            {
                var sentinel = Path.Combine(outside, "sentinel.txt");
                File.WriteAllText(sentinel, "keep me");
                var store = Path.Combine(_dir, "store");
                Directory.CreateDirectory(Path.Combine(store, "backup_app_20240101_000000.dir"));
                File.CreateSymbolicLink(Path.Combine(store, "backup_app_20240102_000000.sql.gz"), sentinel);
                Directory.CreateSymbolicLink(Path.Combine(store, "backup_app_20240101_000000.dir", "link"), outside);
                using var s = new LocalStore(store, false);
                Assert.Equal(new[] { "backup_app_20240101_000000.dir" }, s.List(null, None).Select(e => e.Name));
                Assert.Empty(s.List("backup_app_20240101_000000.dir", None));
                Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => s.OpenRead("backup_app_20240102_000000.sql.gz", None)).ErrorId);
                Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => s.OpenRead("backup_app_20240101_000000.dir/link/sentinel.txt", None)).ErrorId);
                s.Delete("backup_app_20240101_000000.dir", None);
                Assert.False(Directory.Exists(Path.Combine(store, "backup_app_20240101_000000.dir")));
                Assert.Equal("keep me", File.ReadAllText(sentinel));
            }
            finally { Directory.Delete(outside, true); }
        }

        private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        public static readonly TheoryData<string, string> BadManifests = new TheoryData<string, string>
        {
            { "not json", "not valid JSON" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"tables\":[", "not valid JSON" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"sizeBytes\":\"big\"}", "not valid JSON" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"sizeBytes\":1e400}", "not valid JSON" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"format\":42}", "unknown format" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"tables\":null}", "lacks a field" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"host\":null}", "lacks a field" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"scope\":null}", "lacks a field" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"tables\":[null]}", "table without" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"files\":[null]}", "file entry" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"globals\":{\"name\":\"g\",\"sha256\":\"\"}}", "roles file" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"x\"}", "64 hexadecimal" },
            { "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + Hex + "\",\"sizeBytes\":-1}", "negative size" },
            { "[" + new string('[', 5000) + new string(']', 5000) + "]", "not valid JSON" },
            { "\"PgBackup\"", "not valid JSON" },
            { "null", "not a PgBackup manifest" },
        };

        [Theory]
        [MemberData(nameof(BadManifests))]
        public void MalformedTruncatedAndWronglyTypedManifestsAreRefused(string json, string why)
        {
            var e = Assert.Throws<PgBackupException>(() => BackupManifest.FromJson(Encoding.UTF8.GetBytes(json), "m.json"));
            Assert.Equal(ErrorIds.ManifestInvalid, e.ErrorId);
            Assert.Contains(why, e.Message);
        }

        [Fact]
        public void HugeManifestsAreRefusedWithoutReadingThemWhole()
        {
            var e = Assert.Throws<PgBackupException>(() => BackupManifest.ReadBounded(new MemoryStream(new byte[300_000]), "m.json", 200_000));
            Assert.Equal(ErrorIds.ManifestInvalid, e.ErrorId);
            Assert.Equal(100_000, BackupManifest.ReadBounded(new MemoryStream(new byte[100_000]), "m.json", 200_000).Length);
        }

        [Theory]
        [InlineData("/tmp/sentinel")]
        [InlineData("../sentinel")]
        [InlineData("backup_other_20240101_000000.sql.gz")]
        [InlineData("backup_app_20240101_000000.globals.sql/../../x")]
        public void AManifestMayNameOnlyItsOwnRolesFileAndSafeFileNames(string hostile)
        {
            const string data = "backup_app_20240101_000000.dir";
            var m = new BackupManifest { Name = data, Sha256 = Hex, Format = BackupFormat.Directory };
            m.Globals = new GlobalsInfo { Name = hostile, Sha256 = Hex };
            Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => BackupManifest.Read(m.ToJsonBytes(), "m", data)).ErrorId);
            m.Globals = new GlobalsInfo { Name = "backup_app_20240101_000000.globals.sql.gpg", Sha256 = Hex };
            Assert.Equal(m.Globals.Name, BackupManifest.Read(m.ToJsonBytes(), "m", data).Globals!.Name);
            m.Files = new List<BackupFileEntry> { new BackupFileEntry { Name = hostile, Sha256 = Hex } };
            if (StoreName.Problem(hostile) is not null)
                Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => BackupManifest.Read(m.ToJsonBytes(), "m", data)).ErrorId);
        }

        [S3Fact]
        public void S3KeysThatWouldLeaveTheStoreAreNotListedAndADirectoryBackupNamingThemIsRefused()
        {
            var server = S3TestServer.Current!;
            var bucket = server.NewBucket();
            using var c = server.Client();
            const string name = "backup_app_20240101_000000.dir";
            var toc = Encoding.UTF8.GetBytes("toc");
            var files = new List<BackupFileEntry> { new BackupFileEntry { Name = "toc.dat", SizeBytes = toc.Length, Sha256 = S3TestServer.Sha(toc) } };
            var manifest = new BackupManifest { Name = name, Format = BackupFormat.Directory, Files = files, Sha256 = BackupEngine.DirectoryHash(files), SizeBytes = toc.Length };
            void Put(string key, byte[] body) => c.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(body) }).GetAwaiter().GetResult();
            Put($"pg/{name}/toc.dat", toc);
            Put($"pg/{name}/..\\..\\evil.dat", toc);
            Put($"pg/{name}/../../../evil.dat", toc);
            Put($"pg/{name}/a\u0001b", toc);
            Put($"pg/{name}.json", manifest.ToJsonBytes());
            Put("pg/C:evil", toc);
            Assert.Contains($"pg/{name}/../../../evil.dat", S3TestServer.Keys(c, bucket)); // stored as it is: S3 keys are only text
            using var store = new S3Store($"s3://{bucket}/pg/", server.Options());
            Assert.Equal(new[] { name, name + ".json" }, store.List(null, None).Select(e => e.Name).OrderBy(n => n, StringComparer.Ordinal));
            Assert.Equal(new[] { name + "/toc.dat" }, store.List(name, None).Select(e => e.Name));

            // Downloaded for pg_restore: only the files the rule allows, into the temporary folder.
            using (var source = BackupSource.Open($"s3://{bucket}/pg/{name}", server.Options(), NullLog.Instance, None))
            using (var local = LocalCopy.OfDirectory(source, None))
                Assert.Equal(new[] { "toc.dat" }, Directory.GetFiles(local.Path, "*", SearchOption.AllDirectories).Select(Path.GetFileName));

            files.Add(new BackupFileEntry { Name = "../../evil.dat", SizeBytes = toc.Length, Sha256 = S3TestServer.Sha(toc) });
            manifest.Files = files;
            Put($"pg/{name}.json", manifest.ToJsonBytes());
            var e = Assert.Throws<PgBackupException>(() => BackupSource.Open($"s3://{bucket}/pg/{name}", server.Options(), NullLog.Instance, None));
            Assert.Equal(ErrorIds.UnsafeName, e.ErrorId);
        }
    }
}
