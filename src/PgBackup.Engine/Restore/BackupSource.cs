using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// A backup opened for reading: its store, name, manifest (when it has one) and what is known of its format. The
    /// read side of the pipeline starts here: the stored bytes (hashed as they are read), then decompression, then
    /// whatever consumes the archive (a scanner, psql, pg_restore).
    /// </summary>
    public sealed class BackupSource : IDisposable
    {
        private static readonly Regex DumpedBy = new Regex(@"^-- Dumped by pg_dump version (\d+)(?:\.(\d+))?", RegexOptions.Multiline | RegexOptions.Compiled);

        private BackupSource(IBackupStore store, string name, BackupInfo info)
        {
            Store = store;
            Name = name;
            Info = info;
        }

        public IBackupStore Store { get; }
        public string Name { get; }
        public BackupInfo Info { get; }
        public BackupManifest? Manifest => Info.Manifest;
        public BackupFormat Format => Info.Format;
        public CompressionMethod Compression => Info.Compression;
        public string Path => Info.Path;

        /// <summary>
        /// Opens the backup at <paramref name="path"/>; refuses incomplete backups, paths that are not backups, backups
        /// whose manifest names what it may not, and with <paramref name="verifier"/> (-VerifyKey) any backup whose
        /// manifest is not signed by one of its keys: every reader starts here, so nothing is read before that.
        /// </summary>
        public static BackupSource Open(string path, StoreOptions options, IOperationLog log, CancellationToken ct, SignatureVerifier? verifier = null)
        {
            var (store, name) = StoreFactory.OpenBackup(path, options);
            try
            {
                var info = BackupCatalog.Get(store, name, log, ct, verifier);
                if (info.Refusal is not null) throw info.Refusal;
                if (info.Status == BackupStatus.Incomplete)
                    throw new PgBackupException(ErrorIds.BackupIncomplete, ErrorKind.InvalidData,
                        $"{info.Path} is not a complete backup: {info.StatusDetail}", info.Path);
                if (info.Status == BackupStatus.NoManifest && !info.IsGood)
                    throw new PgBackupException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData, $"{info.Path} is empty: {info.StatusDetail}", info.Path);
                return new BackupSource(store, BackupNaming.StripAuxiliarySuffix(name), info);
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }

        /// <summary>The stored bytes of a single-file backup, hashed as they are read.</summary>
        public HashingReadStream OpenStored(Action<long>? onProgress, CancellationToken ct) =>
            new HashingReadStream(Store.OpenRead(Name, ct), onProgress);

        /// <summary>
        /// The archive from its first byte, decrypted and decompressed, on a reading of its own (closing it closes
        /// everything it opened): for the connections of a parallel restore that each read on to their table's data.
        /// </summary>
        public Stream OpenScript(CancellationToken ct) => Decode(OpenStored(null, ct));

        /// <summary>The SHA-256 of the stored file as the check before a restore read it whole (BackupVerifier).</summary>
        public string? CheckedSha256 { get; internal set; }

        /// <summary>
        /// What a second reading of the stored file must hash to: the manifest's SHA-256, or for a backup without one
        /// (the guide's files) what the check read; null when neither is known.
        /// </summary>
        public string? ExpectedSha256 => Manifest?.Sha256 ?? CheckedSha256;

        /// <summary>How to decrypt an encrypted backup (passphrase or secret key).</summary>
        public DecryptionSettings Decryption { get; set; } = DecryptionSettings.None;

        /// <summary>Encrypted with OpenPGP (by PgBackup, or by the guide's gpg command).</summary>
        public bool Encrypted => Info.Encrypted;

        /// <summary>
        /// The archive itself: the stored bytes decrypted (OpenPGP) and decompressed (Plain backups are compressed by
        /// PgBackup). Closing it closes <paramref name="stored"/>.
        /// </summary>
        public Stream Decode(Stream stored)
        {
            var s = Encrypted ? OpenPgp.CreateDecryptor(stored, Decryption, Path) : stored;
            return Format == BackupFormat.Plain ? PgBackup.Compression.CreateDecompressor(Info.Compression, s) : s;
        }

        /// <summary>The major version of pg_dump that wrote the backup, when known (manifest, or a plain dump's header).</summary>
        public int? PgDumpMajor { get; private set; }

        /// <summary>The full version of that pg_dump when a plain dump's header says it ("15.18").</summary>
        public string? PgDumpVersionText { get; private set; }

        internal void LearnFromPlainHeader(string header)
        {
            var m = DumpedBy.Match(header);
            if (!m.Success) return;
            PgDumpMajor = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            PgDumpVersionText = m.Groups[1].Value + "." + (m.Groups[2].Success ? m.Groups[2].Value : "0");
        }

        public int RequiredToolMajor()
        {
            if (Manifest is not null && Manifest.PgDumpVersion.Length > 0) return PgVersion.Parse(Manifest.PgDumpVersion).Major;
            return PgDumpMajor ?? 0;
        }

        public void Dispose() => Store.Dispose();
    }
}
