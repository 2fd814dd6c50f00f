using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public sealed class OpenPgpTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-pgp-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        private static byte[] Data(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 31 % 251)).ToArray();

        private static byte[] Encrypt(byte[] data, EncryptionSettings settings)
        {
            var sink = new MemoryStream();
            using (var chain = new StageChain(sink))
            {
                chain.Add(s => OpenPgp.CreateEncryptor(s, settings, "backup.sql.gz"));
                chain.Top.Write(data, 0, data.Length);
                chain.Complete();
            }
            return sink.ToArray();
        }

        private static byte[] Decrypt(byte[] encrypted, DecryptionSettings settings)
        {
            using var s = OpenPgp.CreateDecryptor(new MemoryStream(encrypted), settings, "test");
            var o = new MemoryStream();
            s.CopyTo(o);
            return o.ToArray();
        }

        [Fact]
        public void PassphraseRoundTripsAndIsOpenPgp()
        {
            var data = Data(300_000);
            var enc = Encrypt(data, new EncryptionSettings { Passphrase = "pw ∑".ToCharArray() });
            Assert.True(OpenPgp.LooksEncrypted(enc, enc.Length));
            Assert.Equal(data, Decrypt(enc, new DecryptionSettings { Passphrase = "pw ∑".ToCharArray() }));
        }

        [Fact]
        public void WrongPassphraseIsItsOwnError()
        {
            var enc = Encrypt(Data(1000), new EncryptionSettings { Passphrase = "right".ToCharArray() });
            var e = Assert.Throws<PgBackupException>(() => Decrypt(enc, new DecryptionSettings { Passphrase = "wrong".ToCharArray() }));
            Assert.Equal(ErrorIds.WrongPassphrase, e.ErrorId);
        }

        [Fact]
        public void AChangedByteFailsTheIntegrityCheck()
        {
            var enc = Encrypt(Data(100_000), new EncryptionSettings { Passphrase = "pw".ToCharArray() });
            enc[enc.Length / 2] ^= 0x04;
            var e = Assert.Throws<PgBackupException>(() => Decrypt(enc, new DecryptionSettings { Passphrase = "pw".ToCharArray() }));
            Assert.Equal(ErrorIds.IntegrityCheckFailed, e.ErrorId);
        }

        [Fact]
        public void ATruncatedFileFails()
        {
            var enc = Encrypt(Data(100_000), new EncryptionSettings { Passphrase = "pw".ToCharArray() });
            var e = Assert.Throws<PgBackupException>(() => Decrypt(enc.Take(enc.Length - 30).ToArray(), new DecryptionSettings { Passphrase = "pw".ToCharArray() }));
            Assert.Equal(ErrorIds.IntegrityCheckFailed, e.ErrorId);
        }

        [Fact]
        public void NoKeysIsAClearError()
        {
            var enc = Encrypt(Data(10), new EncryptionSettings { Passphrase = "pw".ToCharArray() });
            Assert.Equal(ErrorIds.SecretKeyMissing, Assert.Throws<PgBackupException>(() => Decrypt(enc, DecryptionSettings.None)).ErrorId);
        }

        [Fact]
        public void RefusesBothModesAtOnceAndBadKeyFiles()
        {
            var keyFile = Path.Combine(_dir, "bad.asc");
            File.WriteAllText(keyFile, "not a key");
            Assert.Equal(ErrorIds.EncryptionKeyInvalid, Assert.Throws<PgBackupException>(() => OpenPgp.Describe(new EncryptionSettings { RecipientKeyFiles = new[] { keyFile } })).ErrorId);
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => OpenPgp.Describe(new EncryptionSettings { Passphrase = "x".ToCharArray(), RecipientKeyFiles = new[] { keyFile } })).ErrorId);
        }

        [Fact]
        public void ReadsWhatGpgWritesArmoredOrNot()
        {
            var home = Path.Combine(_dir, "gnupg");
            Directory.CreateDirectory(home);
            var plain = Path.Combine(_dir, "data.bin");
            File.WriteAllBytes(plain, Data(50_000));
            foreach (var armor in new[] { false, true })
            {
                var output = plain + (armor ? ".asc" : ".gpg");
                var args = new[] { "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "gpg-pw", "--symmetric", "--cipher-algo", "AES256", "--output", output }
                    .Concat(armor ? new[] { "--armor" } : Array.Empty<string>()).Concat(new[] { plain });
                var p = Process.Start(new ProcessStartInfo("gpg", args) { RedirectStandardError = true })!;
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode);
                Assert.Equal(Data(50_000), Decrypt(File.ReadAllBytes(output), new DecryptionSettings { Passphrase = "gpg-pw".ToCharArray() }));
            }
        }

        [Fact]
        public void StageChainClosesStagesTopDownLeavingTheSinkOpen()
        {
            var sink = new MemoryStream();
            string hash;
            using (var chain = new StageChain(sink))
            {
                var h = chain.Add(s => new HashingStream(s));
                chain.Add(s => Compression.CreateCompressor(CompressionMethod.Gzip, 6, s));
                var bytes = Encoding.UTF8.GetBytes("hello hello hello");
                chain.Top.Write(bytes, 0, bytes.Length);
                chain.Complete();
                hash = h.HashHex;
            }
            Assert.True(sink.CanWrite);
            Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(sink.ToArray())).ToLowerInvariant(), hash);
            using var back = Compression.CreateDecompressor(CompressionMethod.Gzip, new MemoryStream(sink.ToArray()));
            Assert.Equal("hello hello hello", new StreamReader(back).ReadToEnd());
        }
    }
}
