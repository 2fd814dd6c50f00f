using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Security;

namespace PgBackup
{
    /// <summary>
    /// How to encrypt a backup: a passphrase (symmetric, what the guide's <c>gpg --symmetric</c> does) or recipients'
    /// public keys. Dispose clears the passphrase's characters.
    /// </summary>
    public sealed class EncryptionSettings : IDisposable
    {
        public char[]? Passphrase { get; init; }
        /// <summary>Public key files (armored or binary) of the recipients.</summary>
        public IReadOnlyList<string> RecipientKeyFiles { get; init; } = Array.Empty<string>();
        public bool IsEnabled => (Passphrase is { Length: > 0 }) || RecipientKeyFiles.Count > 0;
        public void Dispose() => OpenPgp.Clear(Passphrase);
    }

    /// <summary>How to decrypt: the passphrase, or a secret key file and its passphrase. Dispose clears the passphrases' characters.</summary>
    public sealed class DecryptionSettings : IDisposable
    {
        public static readonly DecryptionSettings None = new DecryptionSettings();
        public char[]? Passphrase { get; init; }
        public string? SecretKeyPath { get; init; }
        public char[]? SecretKeyPassphrase { get; init; }
        public bool HasAny => Passphrase is { Length: > 0 } || SecretKeyPath is not null;

        public void Dispose()
        {
            OpenPgp.Clear(Passphrase);
            OpenPgp.Clear(SecretKeyPassphrase);
        }
    }

    /// <summary>
    /// OpenPGP (RFC 4880) encryption stages through BouncyCastle: AES-256 with an integrity check (MDC), one
    /// literal packet, no compression (the data is compressed already). Files it writes open with <c>gpg --decrypt</c>;
    /// files gpg writes (<c>gpg --symmetric --cipher-algo AES256</c>, or to public keys) open here.
    /// </summary>
    public static class OpenPgp
    {
        private const int BufferSize = 1 << 16;

        /// <summary>Loads and checks the recipients' encryption keys; returns them with their key ids (hex).</summary>
        public static List<(PgpPublicKey Key, string KeyId)> LoadRecipients(IEnumerable<string> files)
        {
            var result = new List<(PgpPublicKey, string)>();
            foreach (var file in files)
            {
                var bundle = ReadKeyFile(file, s => new PgpPublicKeyRingBundle(s), ErrorIds.EncryptionKeyInvalid, "public",
                    "Export the recipient's public key with: gpg --export --armor <key id> > key.asc");
                var key = bundle.GetKeyRings().Cast<PgpPublicKeyRing>()
                    .SelectMany(r => r.GetPublicKeys().Cast<PgpPublicKey>())
                    .Where(k => k.IsEncryptionKey && !k.HasRevocation() && !IsExpired(k))
                    .OrderByDescending(k => k.IsMasterKey ? 0 : 1)
                    .FirstOrDefault()
                    ?? throw new PgBackupException(ErrorIds.EncryptionKeyInvalid, ErrorKind.InvalidArgument,
                        $"{file} holds no usable (unexpired, unrevoked) encryption key.", file);
                result.Add((key, KeyIdHex(key.KeyId)));
            }
            return result;
        }

        internal static bool IsExpired(PgpPublicKey key)
        {
            long seconds = key.GetValidSeconds();
            return seconds > 0 && key.CreationTime.AddSeconds(seconds) < DateTime.UtcNow;
        }

        /// <summary>Overwrites a secret's characters once it is no longer needed.</summary>
        public static void Clear(char[]? secret)
        {
            if (secret is not null) Array.Clear(secret, 0, secret.Length);
        }

        public static string KeyIdHex(long keyId) => keyId.ToString("X16", System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>Checks the settings (keys readable and usable) and describes them for the manifest (no secret).</summary>
        public static EncryptionInfo Describe(EncryptionSettings settings)
        {
            if (settings.Passphrase is { Length: > 0 } && settings.RecipientKeyFiles.Count > 0)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "Give either a passphrase or recipients' public keys, not both.");
            if (settings.Passphrase is { Length: > 0 }) return new EncryptionInfo { Mode = "Passphrase", Algorithm = "AES256" };
            if (settings.RecipientKeyFiles.Count == 0)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "Encryption needs a passphrase or at least one recipient's public key.");
            return new EncryptionInfo { Mode = "PublicKey", Algorithm = "AES256", Recipients = LoadRecipients(settings.RecipientKeyFiles).Select(r => r.KeyId).ToArray() };
        }

        public static void Check(EncryptionSettings settings) => Describe(settings);

        /// <summary>
        /// A write stage that encrypts into <paramref name="inner"/> (left open). Dispose it to write the closing
        /// packets. <paramref name="fileName"/> is the name stored in the literal packet (what gpg offers to write).
        /// </summary>
        public static Stream CreateEncryptor(Stream inner, EncryptionSettings settings, string fileName)
        {
            Describe(settings);
            var generator = new PgpEncryptedDataGenerator(SymmetricKeyAlgorithmTag.Aes256, true, new SecureRandom());
            if (settings.Passphrase is { Length: > 0 })
                generator.AddMethodUtf8(settings.Passphrase, HashAlgorithmTag.Sha256);
            else
                foreach (var (key, _) in LoadRecipients(settings.RecipientKeyFiles)) generator.AddMethod(key);
            return new EncryptingStream(inner, generator, fileName);
        }

        /// <summary>
        /// A read stage that decrypts <paramref name="inner"/> (closed with it). At the end of the data it checks
        /// OpenPGP's integrity code; a tampered or truncated file fails there with <c>IntegrityCheckFailed</c>.
        /// </summary>
        public static Stream CreateDecryptor(Stream inner, DecryptionSettings settings, string source)
        {
            if (!settings.HasAny)
                throw new PgBackupException(ErrorIds.SecretKeyMissing, ErrorKind.InvalidArgument,
                    $"{source} is encrypted: give -Passphrase, or -SecretKeyPath (and -SecretKeyPassphrase).", source);
            try
            {
                var factory = new PgpObjectFactory(Unarmor(inner));
                PgpObject? o = factory.NextPgpObject();
                while (o is PgpMarker) o = factory.NextPgpObject();
                if (o is not PgpEncryptedDataList list)
                    throw new PgBackupException(ErrorIds.DecryptionFailed, ErrorKind.InvalidData, $"{source} is not an OpenPGP encrypted file.", source);
                var items = list.GetEncryptedDataObjects().Cast<PgpEncryptedData>().ToList();
                Stream? clear = null;
                PgpEncryptedData? used = null;
                if (settings.SecretKeyPath is not null)
                {
                    var secrets = LoadSecretKeys(settings.SecretKeyPath);
                    foreach (var pk in items.OfType<PgpPublicKeyEncryptedData>())
                    {
                        var secret = secrets.GetSecretKey(pk.KeyId);
                        if (secret is null) continue;
                        PgpPrivateKey privateKey;
                        try { privateKey = secret.ExtractPrivateKeyUtf8(settings.SecretKeyPassphrase ?? Array.Empty<char>()); }
                        catch (PgpException e)
                        {
                            throw new PgBackupException(ErrorIds.WrongPassphrase, ErrorKind.AuthenticationError,
                                $"The passphrase of the secret key {KeyIdHex(pk.KeyId)} in {settings.SecretKeyPath} is wrong (-SecretKeyPassphrase).", source, e);
                        }
                        clear = pk.GetDataStream(privateKey);
                        used = pk;
                        break;
                    }
                    if (clear is null && !(settings.Passphrase is { Length: > 0 }))
                    {
                        var wanted = string.Join(", ", items.OfType<PgpPublicKeyEncryptedData>().Select(p => KeyIdHex(p.KeyId)));
                        throw new PgBackupException(ErrorIds.SecretKeyMissing, ErrorKind.InvalidArgument,
                            wanted.Length > 0
                                ? $"{source} is encrypted to the key(s) {wanted}; {settings.SecretKeyPath} holds none of their secret keys."
                                : $"{source} is encrypted with a passphrase, not to a public key: give -Passphrase.", source);
                    }
                }
                if (clear is null)
                {
                    var pbe = items.OfType<PgpPbeEncryptedData>().FirstOrDefault()
                        ?? throw new PgBackupException(ErrorIds.SecretKeyMissing, ErrorKind.InvalidArgument,
                            $"{source} is encrypted to public keys ({string.Join(", ", items.OfType<PgpPublicKeyEncryptedData>().Select(p => KeyIdHex(p.KeyId)))}): give -SecretKeyPath.", source);
                    try { clear = pbe.GetDataStreamUtf8(settings.Passphrase!); }
                    catch (PgpDataValidationException e)
                    {
                        throw new PgBackupException(ErrorIds.WrongPassphrase, ErrorKind.AuthenticationError, $"The passphrase for {source} is wrong.", source, e);
                    }
                    used = pbe;
                }
                return new DecryptingStream(inner, clear!, used!, source);
            }
            catch (PgBackupException) { inner.Dispose(); throw; }
            catch (Exception e) when (e is PgpException || e is IOException)
            {
                inner.Dispose();
                throw Damaged(source, e);
            }
        }

        /// <summary>
        /// The binary OpenPGP data of a stream that may be ASCII-armored. (BouncyCastle's own detection needs a
        /// seekable stream; a backup streams from a pipe or from object storage.)
        /// </summary>
        internal static Stream Unarmor(Stream input)
        {
            var head = new byte[64];
            int n = ReadOnlyStream.ReadFully(input, head, 0, head.Length);
            var whole = new PrefixedStream(head, n, input);
            bool armored = n > 0 && (head[0] & 0x80) == 0 &&
                System.Text.Encoding.ASCII.GetString(head, 0, n).TrimStart().StartsWith("-----BEGIN PGP", StringComparison.Ordinal);
            return armored ? new ArmoredInputStream(whole) : whole;
        }

        internal static PgBackupException Damaged(string source, Exception e) =>
            new PgBackupException(ErrorIds.IntegrityCheckFailed, ErrorKind.InvalidData,
                $"{source} cannot be decrypted: it is damaged, truncated or was changed ({e.Message}).", source, e);

        private static PgpSecretKeyRingBundle LoadSecretKeys(string path) =>
            ReadKeyFile(path, s => new PgpSecretKeyRingBundle(s), ErrorIds.EncryptionKeyInvalid, "secret",
                "Export it with: gpg --export-secret-keys --armor <key id> > secret.asc");

        /// <summary>Reads a key file (armored or binary) with <paramref name="read"/>; one that cannot be read is <paramref name="errorId"/>.</summary>
        internal static T ReadKeyFile<T>(string path, Func<Stream, T> read, string errorId, string kind, string recommendedAction)
        {
            try
            {
                using var input = File.OpenRead(path);
                return read(PgpUtilities.GetDecoderStream(input));
            }
            catch (Exception e) when (e is IOException || e is PgpException || e is UnauthorizedAccessException || e is ArgumentException)
            {
                throw new PgBackupException(errorId, ErrorKind.InvalidArgument, $"{path} is not an OpenPGP {kind} key file: {e.Message}", path, e)
                { RecommendedAction = recommendedAction };
            }
        }

        /// <summary>Whether the first bytes look like OpenPGP data (a binary packet or ASCII armor).</summary>
        public static bool LooksEncrypted(byte[] head, int count)
        {
            if (count <= 0) return false;
            if (count >= 15 && System.Text.Encoding.ASCII.GetString(head, 0, Math.Min(count, 27)).StartsWith("-----BEGIN PGP MESSAGE", StringComparison.Ordinal)) return true;
            byte b = head[0];
            if ((b & 0x80) == 0) return false;
            int tag = (b & 0x40) != 0 ? b & 0x3F : (b >> 2) & 0x0F;
            return tag == 1 || tag == 3 || tag == 10; // public-key or symmetric session key, marker
        }

        private sealed class EncryptingStream : WriteThroughStream
        {
            private readonly Stream _encrypted;
            private readonly Stream _plain;
            private bool _closed;

            public EncryptingStream(Stream inner, PgpEncryptedDataGenerator generator, string fileName)
                : base(inner, leaveOpen: true)
            {
                _encrypted = generator.Open(new NonClosingStream(inner), new byte[BufferSize]);
                _plain = new PgpLiteralDataGenerator().Open(_encrypted, PgpLiteralData.Binary, fileName, DateTime.UtcNow, new byte[BufferSize]);
            }

            protected override void Observe(byte[] buffer, int offset, int count) { }

            public override void Write(byte[] buffer, int offset, int count)
            {
                _plain.Write(buffer, offset, count);
            }

            public override void Flush() => _plain.Flush();

            protected override void Dispose(bool disposing)
            {
                if (disposing && !_closed)
                {
                    _closed = true;
                    _plain.Dispose();
                    _encrypted.Dispose();
                }
                base.Dispose(disposing);
            }
        }

        private sealed class DecryptingStream : ReadOnlyStream
        {
            private readonly Stream _raw;
            private readonly Stream _clear;
            private readonly PgpEncryptedData _data;
            private readonly string _source;
            private Stream? _literal;
            private bool _verified;

            public DecryptingStream(Stream raw, Stream clear, PgpEncryptedData data, string source)
            {
                _raw = raw;
                _clear = clear;
                _data = data;
                _source = source;
            }

            private Stream Literal()
            {
                if (_literal is not null) return _literal;
                var factory = new PgpObjectFactory(_clear);
                var o = factory.NextPgpObject();
                if (o is PgpCompressedData compressed)
                    o = new PgpObjectFactory(compressed.GetDataStream()).NextPgpObject();
                while (o is PgpOnePassSignatureList || o is PgpSignatureList) o = factory.NextPgpObject();
                if (o is not PgpLiteralData literal)
                    throw new PgBackupException(ErrorIds.DecryptionFailed, ErrorKind.InvalidData, $"{_source} holds no data after decryption.", _source);
                return _literal = literal.GetInputStream();
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                int n;
                try { n = Literal().Read(buffer, offset, count); }
                catch (Exception e) when (e is PgpException || e is IOException || e is InvalidOperationException)
                {
                    throw Damaged(_source, e);
                }
                if (n == 0 && !_verified)
                {
                    _verified = true;
                    bool ok;
                    try { ok = !_data.IsIntegrityProtected() || _data.Verify(); }
                    catch (Exception e) when (e is PgpException || e is IOException) { throw Damaged(_source, e); }
                    if (!_data.IsIntegrityProtected())
                        throw new PgBackupException(ErrorIds.IntegrityCheckFailed, ErrorKind.SecurityError,
                            $"{_source} has no OpenPGP integrity protection (MDC), so a change could not be detected; PgBackup refuses it.", _source);
                    if (!ok) throw Damaged(_source, new InvalidDataException("the integrity check (MDC) failed"));
                }
                return n;
            }


            protected override void Dispose(bool disposing)
            {
                if (disposing) _raw.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
