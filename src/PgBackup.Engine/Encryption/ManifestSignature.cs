using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Bcpg.Sig;
using Org.BouncyCastle.Security;

namespace PgBackup
{
    /// <summary>
    /// A secret key that signs manifests: an OpenPGP detached signature (binary, SHA-256) of the manifest's exact bytes,
    /// stored beside it as <c>&lt;name&gt;.json.sig</c>, the file <c>gpg --detach-sign &lt;name&gt;.json</c> writes and
    /// <c>gpg --verify</c> checks. The manifest holds the data's SHA-256 (and a Directory backup's files' and the roles
    /// file's), so the signature covers all of the backup.
    /// </summary>
    public sealed class SigningKey
    {
        private readonly PgpPrivateKey _private;
        private readonly PgpPublicKey _public;

        private SigningKey(PgpPrivateKey privateKey, PgpPublicKey publicKey)
        {
            _private = privateKey;
            _public = publicKey;
        }

        /// <summary>The signing key's id (hex), as gpg shows it.</summary>
        public string KeyId => OpenPgp.KeyIdHex(_public.KeyId);

        /// <summary>
        /// Reads the signing key from a secret key file (<c>gpg --export-secret-keys</c>, armored or binary) and unlocks
        /// it: the newest unrevoked, unexpired key that may sign (a signing subkey, else the primary key).
        /// </summary>
        public static SigningKey Load(string path, char[]? passphrase)
        {
            var bundle = OpenPgp.ReadKeyFile(path, s => new PgpSecretKeyRingBundle(s), ErrorIds.SigningKeyInvalid, "secret",
                "Export the signing key with: gpg --export-secret-keys --armor <key id> > signing-key.asc");
            var secret = bundle.GetKeyRings().Cast<PgpSecretKeyRing>()
                .SelectMany(r => r.GetSecretKeys().Cast<PgpSecretKey>())
                .Where(k => !k.IsPrivateKeyEmpty && k.IsSigningKey && MaySign(k.PublicKey) && !k.PublicKey.HasRevocation() && !OpenPgp.IsExpired(k.PublicKey))
                .OrderBy(k => k.IsMasterKey ? 1 : 0).ThenByDescending(k => k.PublicKey.CreationTime)
                .FirstOrDefault()
                ?? throw new PgBackupException(ErrorIds.SigningKeyInvalid, ErrorKind.InvalidArgument, $"{path} holds no usable (unexpired, unrevoked) signing key.", path);
            try
            {
                return new SigningKey(secret.ExtractPrivateKeyUtf8(passphrase ?? Array.Empty<char>()), secret.PublicKey);
            }
            catch (PgpException e)
            {
                throw new PgBackupException(ErrorIds.WrongPassphrase, ErrorKind.AuthenticationError,
                    $"The passphrase of the signing key {OpenPgp.KeyIdHex(secret.KeyId)} in {path} is wrong (-SigningKeyPassphrase).", path, e);
            }
        }

        /// <summary>Whether a key's self-signatures allow signing data (keys without key flags: by their algorithm).</summary>
        private static bool MaySign(PgpPublicKey key)
        {
            var flags = key.GetSignatures().Cast<PgpSignature>().Where(s => s.HasSubpackets)
                .Select(s => s.GetHashedSubPackets()).Where(p => p.HasSubpacket(SignatureSubpacketTag.KeyFlags)).Select(p => p.GetKeyFlags()).ToList();
            return flags.Count == 0 || flags.Any(f => (f & KeyFlags.SignData) != 0);
        }

        /// <summary>A detached signature of <paramref name="data"/> (binary OpenPGP packets).</summary>
        public byte[] Sign(byte[] data)
        {
            var generator = new PgpSignatureGenerator(_public.Algorithm, HashAlgorithmTag.Sha256);
            generator.InitSign(PgpSignature.BinaryDocument, _private, new SecureRandom());
            var hashed = new PgpSignatureSubpacketGenerator();
            hashed.SetSignatureCreationTime(false, DateTime.UtcNow);
            hashed.SetIssuerFingerprint(false, _public);
            generator.SetHashedSubpackets(hashed.Generate());
            var unhashed = new PgpSignatureSubpacketGenerator();
            unhashed.SetIssuerKeyID(false, _public.KeyId);
            generator.SetUnhashedSubpackets(unhashed.Generate());
            generator.Update(data);
            using var output = new MemoryStream();
            generator.Generate().Encode(output);
            return output.ToArray();
        }
    }

    /// <summary>
    /// The public keys whose signatures a reader accepts (<c>-VerifyKey</c>). With it, a backup is used only when its
    /// manifest has a signature (<c>&lt;name&gt;.json.sig</c>, from PgBackup or from <c>gpg --detach-sign</c>, binary
    /// or armored) by one of these keys that matches the manifest's bytes.
    /// </summary>
    public sealed class SignatureVerifier
    {
        /// <summary>The most a signature file may hold (a few signatures are some hundred bytes).</summary>
        public const int MaxSignatureBytes = 1 << 20;

        private readonly PgpPublicKeyRingBundle _keys;

        private SignatureVerifier(string keyFile, PgpPublicKeyRingBundle keys)
        {
            KeyFile = keyFile;
            _keys = keys;
        }

        public string KeyFile { get; }

        /// <summary>Reads a public key file (<c>gpg --export</c>, armored or binary).</summary>
        public static SignatureVerifier Load(string path) =>
            new SignatureVerifier(path, OpenPgp.ReadKeyFile(path, s =>
            {
                var keys = new PgpPublicKeyRingBundle(s);
                return keys.Count > 0 ? keys : throw new PgpException("it holds no key");
            }, ErrorIds.VerifyKeyInvalid, "public", "Export the signer's public key with: gpg --export --armor <key id> > signer.asc"));

        /// <summary>
        /// Checks <paramref name="signature"/> (the signature file's bytes, or null when there is none) over
        /// <paramref name="data"/>; returns the id of the key that signed, or refuses the backup: SignatureMissing,
        /// SignatureKeyMismatch (signed, but by no key in the key file) or SignatureInvalid (the manifest was changed
        /// after it was signed, or the signature is damaged).
        /// </summary>
        public string Verify(byte[] data, byte[]? signature, string backup)
        {
            if (signature is null)
                throw Refused(ErrorIds.SignatureMissing, $"{backup} is not signed (no {BackupNaming.SignatureSuffix} beside its manifest), and -VerifyKey requires a signature.", backup);
            List<PgpSignature> signatures;
            try { signatures = ReadSignatures(signature); }
            catch (Exception e) when (e is IOException || e is PgpException || e is ArgumentException || e is InvalidCastException)
            {
                throw Refused(ErrorIds.SignatureInvalid, $"The signature of {backup} cannot be read: {e.Message}", backup, e);
            }
            var signers = new List<string>();
            foreach (var s in signatures.Where(s => s.SignatureType == PgpSignature.BinaryDocument || s.SignatureType == PgpSignature.CanonicalTextDocument))
            {
                var key = s.KeyId != 0 ? _keys.GetPublicKey(s.KeyId) : null;
                if (key is null || key.HasRevocation()) { signers.Add(OpenPgp.KeyIdHex(s.KeyId)); continue; }
                bool ok;
                try
                {
                    s.InitVerify(key);
                    s.Update(data);
                    ok = s.Verify();
                }
                catch (PgpException e) { throw Refused(ErrorIds.SignatureInvalid, $"The signature of {backup} cannot be checked: {e.Message}", backup, e); }
                if (ok) return OpenPgp.KeyIdHex(key.KeyId);
                throw Refused(ErrorIds.SignatureInvalid,
                    $"The signature of {backup} by {OpenPgp.KeyIdHex(key.KeyId)} does not match its manifest: the manifest (or the signature) was changed after it was signed.", backup);
            }
            throw Refused(ErrorIds.SignatureKeyMismatch,
                signers.Count == 0 ? $"{backup}'s signature file holds no signature of a document."
                    : $"{backup} is signed by {string.Join(", ", signers)}, which is not a key in {KeyFile} (or is revoked there).", backup);
        }

        private static List<PgpSignature> ReadSignatures(byte[] signature)
        {
            var factory = new PgpObjectFactory(OpenPgp.Unarmor(new MemoryStream(signature, false)));
            var result = new List<PgpSignature>();
            for (var o = factory.NextPgpObject(); o is not null; o = factory.NextPgpObject())
            {
                if (o is PgpCompressedData c) factory = new PgpObjectFactory(c.GetDataStream());
                else if (o is PgpSignatureList list) for (int i = 0; i < list.Count; i++) result.Add(list[i]);
                else if (o is not PgpMarker) throw new PgpException($"it holds a {o.GetType().Name}, not a signature");
            }
            return result;
        }

        private static PgBackupException Refused(string errorId, string message, string backup, Exception? inner = null) =>
            new PgBackupException(errorId, ErrorKind.SecurityError, message + " The backup was not used; nothing was changed.", backup, inner)
            {
                RecommendedAction = "Check the backup store for tampering; sign backups with -SigningKey, and give the signer's public key to -VerifyKey.",
            };
    }
}
