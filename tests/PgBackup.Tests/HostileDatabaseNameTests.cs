using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// Database names come from the server's catalog (New-PgBackup -AllDatabases backs up whatever pg_database lists):
    /// whatever a CREATE DATABASE accepts (any character but NUL, up to 63 bytes), the backup's names stay inside the
    /// store by the one naming scheme and the one name rule, and two databases never get the same file.
    /// </summary>
    public sealed class HostileDatabaseNameTests
    {
        private static readonly DateTime T = new DateTime(2026, 12, 6, 3, 0, 0, DateTimeKind.Utc);

        public static IEnumerable<object[]> HostileNames()
        {
            var names = new List<string>
            {
                "..", ".", "../../etc", "..\\..\\Windows", "/etc/passwd", "C:\\x", "\\\\server\\share", "a/b", "a_b",
                "it's", "say \"hi\"", "line\nbreak", "cr\rreturn", "tab\there", "bell\u0007", "del\u007f",
                "CON", "nul", "COM1", "LPT\u00b9", "trailing dot.", "trailing space ", " leading space", "-C --file=/tmp/x",
                "a*b?c<d>e|f:g", "pct%2F..%2Fx", "backup_x_20240101_000000.sql.gz", "x.json", "x.partial",
                "\u202eexe.sql", "Größe", "名前", "\ud83d\ude00emoji",
                new string('x', 63), new string('.', 63), new string('/', 63), string.Concat(Enumerable.Repeat("é", 31)),
                string.Concat(Enumerable.Repeat("名", 21)), string.Concat(Enumerable.Repeat("\ud83d\ude00", 15)),
            };
            foreach (var n in names)
            {
                Assert.True(Encoding.UTF8.GetByteCount(n) <= 63, n);
                yield return new object[] { n };
            }
        }

        [Theory]
        [MemberData(nameof(HostileNames))]
        public void EveryNameOfTheBackupStaysInsideTheStore(string database)
        {
            var folder = Path.Combine(Path.GetTempPath(), "pgbackup-hostile-" + Guid.NewGuid().ToString("n"));
            foreach (var format in new[] { BackupFormat.Plain, BackupFormat.Custom, BackupFormat.Directory })
            foreach (var compression in new[] { CompressionMethod.Gzip, CompressionMethod.Zstd, CompressionMethod.None })
            foreach (var encrypted in new[] { false, true })
            {
                // The 9999th backup of the same second is the longest name the scheme makes (once, with the longest extension).
                bool longest = format == BackupFormat.Plain && compression == CompressionMethod.Zstd && encrypted;
                var taken = Enumerable.Range(1, longest ? 9998 : 0).Select(i => BackupNaming.Stem(database, T, i) + BackupNaming.Extension(format, compression, encrypted)).ToList();
                foreach (var existing in longest ? new[] { new List<string>(), taken } : new[] { new List<string>() })
                {
                    var name = BackupNaming.NewName(database, T, format, compression, encrypted, existing);
                    var parsed = BackupNaming.Parse(name);
                    Assert.NotNull(parsed);
                    Assert.Equal(T, parsed!.TimeUtc);
                    Assert.Equal(format, parsed.Format);
                    Assert.Equal(encrypted, parsed.Encrypted);
                    Assert.Equal(BackupNaming.SafeDatabaseName(database), parsed.Database);
                    foreach (var n in new[]
                             {
                                 name, BackupNaming.ManifestName(name), BackupNaming.SignatureName(name), BackupNaming.PartialName(name),
                                 BackupNaming.PartialName(BackupNaming.ManifestName(name)), BackupNaming.GlobalsName(parsed.Stem, encrypted),
                                 BackupNaming.PartialName(BackupNaming.GlobalsName(parsed.Stem, encrypted)), name + "/toc.dat", name + "/3456.dat.gz",
                             })
                    {
                        Assert.Null(StoreName.Problem(n));
                        var local = StoreName.LocalPath(folder, n);
                        Assert.StartsWith(folder + Path.DirectorySeparatorChar, local, StringComparison.Ordinal);
                        Assert.DoesNotContain('/', n.Contains('/') ? n.Substring(0, n.IndexOf('/')) : n);
                    }
                }
            }
        }

        [Fact]
        public void DatabasesWhoseNamesLookAlikeGetDistinctFilesInOneRun()
        {
            // "a/b", "a:b", "a_b" and "a_b " are one safe name; backed up in the same second on parallel workers, each
            // gets its own file, whatever the store listed before the run.
            var existing = new[] { "backup_a_b_20261206_030000.sql.gz", "backup_a_b_20261206_030000.sql.gz.json" };
            var registry = new BackupNameRegistry(existing);
            var names = new[] { "a/b", "a:b", "a_b", "a_b ", "A_B" }.AsParallel()
                .Select(d => registry.Reserve(d, T, BackupFormat.Plain, CompressionMethod.Gzip, false))
                .ToList();
            Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
            Assert.DoesNotContain(existing[0], names);
            Assert.All(names, n => Assert.Null(StoreName.Problem(n)));
        }
    }
}
