using System;
using System.Linq;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public class NamingAndManifestTests
    {
        private static readonly DateTime T = new DateTime(2024, 3, 15, 14, 30, 22, DateTimeKind.Utc);

        [Fact]
        public void NamesFollowTheGuide()
        {
            var name = BackupNaming.NewName("spotify_time_machine", T, BackupFormat.Plain, CompressionMethod.Gzip, false, Array.Empty<string>());
            Assert.Equal("backup_spotify_time_machine_20240315_143022.sql.gz", name);
            Assert.Equal(".dump", BackupNaming.Extension(BackupFormat.Custom, CompressionMethod.Zstd));
            Assert.Equal(".dir", BackupNaming.Extension(BackupFormat.Directory, CompressionMethod.Gzip));
            Assert.Equal(".sql.zst", BackupNaming.Extension(BackupFormat.Plain, CompressionMethod.Zstd));
            Assert.Equal(".sql", BackupNaming.Extension(BackupFormat.Plain, CompressionMethod.None));
            Assert.Equal(".sql.gz.gpg", BackupNaming.Extension(BackupFormat.Plain, CompressionMethod.Gzip, encrypted: true));
        }

        [Fact]
        public void LocalTimesAreWrittenInUtc()
        {
            var local = new DateTime(2024, 3, 15, 14, 30, 22, DateTimeKind.Utc).ToLocalTime();
            Assert.Equal("backup_db_20240315_143022", BackupNaming.Stem("db", local));
        }

        [Fact]
        public void TwoBackupsInTheSameSecondGetDistinctNames()
        {
            var first = BackupNaming.NewName("db", T, BackupFormat.Plain, CompressionMethod.Gzip, false, Array.Empty<string>());
            var second = BackupNaming.NewName("db", T, BackupFormat.Custom, CompressionMethod.Gzip, false, new[] { first, first + ".json" });
            var third = BackupNaming.NewName("db", T, BackupFormat.Plain, CompressionMethod.Gzip, false, new[] { first, second + ".partial" });
            Assert.Equal("backup_db_20240315_143022_2.dump", second);
            Assert.Equal("backup_db_20240315_143022_3.sql.gz", third);
            Assert.Equal(2, BackupNaming.Parse(second)!.Sequence);
        }

        [Theory]
        [InlineData("backup_spotify_time_machine_20240315_143022.sql.gz", "spotify_time_machine", BackupFormat.Plain, CompressionMethod.Gzip, true)]
        [InlineData("backup_a_b_20240315_143022_2.sql.zst", "a_b", BackupFormat.Plain, CompressionMethod.Zstd, false)]
        [InlineData("backup_db_20240315_143022.dump.gpg", "db", BackupFormat.Custom, CompressionMethod.None, false)]
        [InlineData("backup_db_20240315_143022.dir", "db", BackupFormat.Directory, CompressionMethod.None, false)]
        public void ParsesNames(string name, string db, BackupFormat format, CompressionMethod compression, bool guide)
        {
            var p = BackupNaming.Parse(name)!;
            Assert.Equal(db, p.Database);
            Assert.Equal(T, p.TimeUtc);
            Assert.Equal(DateTimeKind.Utc, p.TimeUtc.Kind);
            Assert.Equal(format, p.Format);
            if (format == BackupFormat.Plain) Assert.Equal(compression, p.Compression);
            Assert.Equal(guide, p.IsGuideStyle);
        }

        [Theory]
        [InlineData("notes.txt")]
        [InlineData("backup_db_2024031_143022.sql.gz")]
        [InlineData("backup_db_20241315_143022.sql.gz")]
        [InlineData("backup_db_20240315_143022.sql.gz.json")]
        [InlineData("backup_db_20240315_143022.sql.gz.partial")]
        [InlineData("backup__20240315_143022.tar")]
        public void IgnoresOtherFiles(string name) => Assert.Null(BackupNaming.Parse(name));

        [Fact]
        public void UnsafeCharactersInDatabaseNamesAreReplaced()
        {
            Assert.Equal("a_b_c", BackupNaming.SafeDatabaseName("a/b:c"));
            Assert.Equal("Größe", BackupNaming.SafeDatabaseName("Größe"));
        }

        [Fact]
        public void ManifestRoundTripsWithoutSecrets()
        {
            var m = new BackupManifest
            {
                ModuleVersion = "1.2.3",
                Name = "backup_db_20240315_143022.sql.gz",
                Database = "db",
                Host = "h",
                Port = 5432,
                User = "u",
                ServerVersion = "15.18",
                PgDumpVersion = "15.18",
                Format = BackupFormat.Plain,
                Compression = CompressionMethod.Gzip,
                CompressionLevel = 6,
                SizeBytes = 1234,
                Sha256 = new string('a', 64),
                StartTime = T,
                EndTime = T.AddSeconds(3),
                Tables = { new TableRowCount("public", "users", 40), new TableRowCount("Mixed Case", "Tëst", 2) },
            };
            var json = m.ToJson();
            Assert.Contains("\"format\": \"Plain\"", json);
            Assert.Contains("\"startTime\": \"2024-03-15T14:30:22Z\"", json);
            var back = BackupManifest.FromJson(m.ToJsonBytes(), "test");
            Assert.Equal(m.Sha256, back.Sha256);
            Assert.Equal(DateTimeKind.Utc, back.StartTime.Kind);
            Assert.Equal(T, back.StartTime);
            Assert.Equal(2, back.Tables.Count);
            Assert.Equal("\"Mixed Case\".\"Tëst\"", back.Tables[1].QualifiedName);
            Assert.Equal(40, back.Tables[0].Rows);
        }

        [Fact]
        public void RejectsManifestsThatAreNotPgBackups()
        {
            Assert.Equal(ErrorIds.ManifestInvalid, Assert.Throws<PgBackupException>(() => BackupManifest.FromJson(System.Text.Encoding.UTF8.GetBytes("{\"a\":1}"), "x")).ErrorId);
            Assert.Equal(ErrorIds.ManifestInvalid, Assert.Throws<PgBackupException>(() => BackupManifest.FromJson(System.Text.Encoding.UTF8.GetBytes("not json"), "x")).ErrorId);
            var future = "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"x\",\"formatVersion\":99}";
            Assert.Contains("format version 99", Assert.Throws<PgBackupException>(() => BackupManifest.FromJson(System.Text.Encoding.UTF8.GetBytes(future), "x")).Message);
        }

        [Fact]
        public void ManifestIgnoresUnknownFields()
        {
            var json = "{\"tool\":\"PgBackup\",\"name\":\"n\",\"sha256\":\"" + new string('0', 64) + "\",\"formatVersion\":1,\"somethingNew\":{\"a\":[1,2]}}";
            Assert.Equal("n", BackupManifest.FromJson(System.Text.Encoding.UTF8.GetBytes(json), "x").Name);
        }

        [Fact]
        public void QuotesIdentifiersLikePgDump()
        {
            Assert.Equal("public.users", PgIdentifier.Qualify("public", "users"));
            Assert.Equal("public.\"User\"", PgIdentifier.Qualify("public", "User"));
            Assert.Equal("public.\"order\"", PgIdentifier.Qualify("public", "order"));
            Assert.Equal("\"a\"\"b\".t", PgIdentifier.Qualify("a\"b", "t"));
            Assert.True(PgIdentifier.TryParseQualified("\"Mixed Case\".\"Tëst\"", out var s, out var n));
            Assert.Equal(("Mixed Case", "Tëst"), (s, n));
            Assert.True(PgIdentifier.TryParseQualified("Public.Users", out s, out n));
            Assert.Equal(("public", "users"), (s, n));
        }

        [Fact]
        public void VersionsParse()
        {
            Assert.Equal(new PgVersion(15, 18), PgVersion.FromVersionNum(150018));
            Assert.Equal(new PgVersion(9, 24), PgVersion.FromVersionNum(90624));
            Assert.Equal(new PgVersion(15, 18), PgVersion.FromToolOutput("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"));
            Assert.Equal(new PgVersion(17, 0), PgVersion.FromToolOutput("pg_restore (PostgreSQL) 17devel"));
            Assert.Null(PgVersion.FromToolOutput("something else"));
            Assert.True(new PgVersion(16, 1) > new PgVersion(15, 18));
        }
    }
}
