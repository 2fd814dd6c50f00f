using System;
using System.IO;
using System.Linq;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>Tool selection against real (tiny) executables that print a version, in scratch folders.</summary>
    public sealed class ToolLocatorTests : IDisposable
    {
        private readonly string _root = Directory.CreateTempSubdirectory("pgbackup-tools-").FullName;

        public void Dispose() => Directory.Delete(_root, true);

        private string FakeBin(string folder, string tool, string version)
        {
            var dir = Path.Combine(_root, folder);
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, tool);
            File.WriteAllText(path, $"#!/bin/sh\necho '{tool} (PostgreSQL) {version}'\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return dir;
        }

        [Fact]
        public void PicksTheFirstFitInSearchOrder()
        {
            var explicitDir = FakeBin("explicit", "pg_dump", "14.2");
            var pathDir = FakeBin("path", "pg_dump", "16.1");
            var install15 = FakeBin("install15", "pg_dump", "15.4");
            var install17 = FakeBin("install17", "pg_dump", "17.0");
            var locator = new PgToolLocator(explicitDir, () => new[] { pathDir }, () => new[] { install17, install15 });
            // -PgBinPath first when it fits.
            Assert.Equal(Path.Combine(explicitDir, "pg_dump"), locator.Find("pg_dump", 13, "test").Path);
            // Too old: PATH next.
            Assert.Equal(new PgVersion(16, 1), locator.Find("pg_dump", 15, "test").Version);
            // Install folders: the lowest version that fits.
            var noPath = new PgToolLocator(null, () => Array.Empty<string>(), () => new[] { install17, install15 });
            Assert.Equal(new PgVersion(15, 4), noPath.Find("pg_dump", 15, "test").Version);
            Assert.Equal(new PgVersion(17, 0), noPath.Find("pg_dump", 16, "test").Version);
        }

        [Fact]
        public void NamesTheVersionNeededWhenNoneFits()
        {
            var dir = FakeBin("old", "pg_dump", "15.18");
            var locator = new PgToolLocator(null, () => new[] { dir }, () => Array.Empty<string>());
            var e = Assert.Throws<PgBackupException>(() => locator.Find("pg_dump", 17, "the server runs PostgreSQL 17.10"));
            Assert.Equal(ErrorIds.PgToolTooOld, e.ErrorId);
            Assert.Contains("pg_dump 17 or newer", e.Message);
            Assert.Contains("15.18", e.Message);
            Assert.Contains("postgresql-client-17", e.RecommendedAction);
        }

        [Fact]
        public void SaysWhereItLookedWhenNothingIsInstalled()
        {
            var locator = new PgToolLocator(Path.Combine(_root, "none"), () => Array.Empty<string>(), () => Array.Empty<string>());
            var e = Assert.Throws<PgBackupException>(() => locator.Find("pg_restore", 15, "test"));
            Assert.Equal(ErrorIds.PgToolNotFound, e.ErrorId);
            Assert.Contains("-PgBinPath", e.Message);
        }

        [Fact]
        public void SkipsDebiansPgWrapper()
        {
            var dir = Path.Combine(_root, "usrbin");
            Directory.CreateDirectory(dir);
            var wrapper = Path.Combine(dir, "pg_dump");
            File.WriteAllText(wrapper, "#!/usr/bin/perl\nuse PgCommon;\nprint \"pg_dump (PostgreSQL) 17.0\\n\";\n");
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            var real = FakeBin("real15", "pg_dump", "15.18");
            var locator = new PgToolLocator(null, () => new[] { dir }, () => new[] { real });
            Assert.Equal(new[] { Path.Combine(real, "pg_dump") }, locator.FindAll("pg_dump").Select(t => t.Path));
        }

        [Fact]
        public void FindsTheRealPgDumpOnThisMachine()
        {
            // The tests run where PostgreSQL's client tools are installed (the harness installs them).
            var tool = new PgToolLocator().Find("pg_dump", 10, "test");
            Assert.True(File.Exists(tool.Path));
            Assert.True(tool.Version.Major >= 10);
        }
    }
}
