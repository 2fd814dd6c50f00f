using System;
using System.IO;
using System.IO.Compression;
using System.Text;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>PgBackup's own plain restore against the test server, for what the cmdlets cannot set up.</summary>
    public class ScriptRestoreTests
    {
        private const string Script = "--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n" +
            "CREATE TABLE public.t (a integer);\nCOPY public.t (a) FROM stdin;\n1\n2\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n";

        [PgFact]
        public void AGuideBackupThatChangesBetweenTheCheckAndTheRestoreIsRefused()
        {
            // The guide's file has no manifest: the check's SHA-256 is the only reference the restore pass has.
            var folder = Directory.CreateTempSubdirectory("pgbackup-swap-").FullName;
            var database = "swap_" + Guid.NewGuid().ToString("n").Substring(0, 8);
            using var admin = DatabaseAdmin.Connect(PgTestServer.Info("postgres"), null, Redactor.None, CancellationToken.None);
            try
            {
                var path = Path.Combine(folder, "backup_app_20240315_143022.sql.gz");
                using (var file = File.Create(path))
                using (var gz = new GZipStream(file, CompressionLevel.Fastest))
                {
                    var bytes = Encoding.UTF8.GetBytes(Script);
                    gz.Write(bytes, 0, bytes.Length);
                }
                using var source = BackupSource.Open(path, StoreOptions.Default, NullLog.Instance, CancellationToken.None);
                var report = BackupVerifier.Verify(source, new PgToolLocator(null), deep: false, NullLog.Instance, CancellationToken.None);
                Assert.True(report.Passed);
                Assert.NotNull(source.CheckedSha256);
                // Another file in its place after the check (what a writer to the store could do).
                var swapped = Script.Replace("1\n2\n", "1\n3\n");
                using (var file = File.Create(path))
                using (var gz = new GZipStream(file, CompressionLevel.Fastest))
                {
                    var bytes = Encoding.UTF8.GetBytes(swapped);
                    gz.Write(bytes, 0, bytes.Length);
                }
                admin.Create(database, null, NullLog.Instance, CancellationToken.None);
                var e = Assert.Throws<PgBackupException>(() => ScratchRestore.Run(source, PgTestServer.Info("postgres"), database, new PgToolLocator(null),
                    new RestoreOptions(), Redactor.None, NullLog.Instance, "test", CancellationToken.None));
                Assert.Equal(ErrorIds.BackupChecksumMismatch, e.ErrorId);
                Assert.Contains("what the check before the restore read", e.Message);
            }
            finally
            {
                admin.Drop(database, CancellationToken.None);
                Directory.Delete(folder, true);
            }
        }
    }
}
