using System;
using System.IO;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// Protect-PgBackup and Unprotect-PgBackup: encrypt or decrypt an existing backup into a new one beside it (the
    /// same data, <c>.gpg</c> added or removed), with its manifest updated; the original is removed afterwards
    /// unless asked to keep it. Backups made by the guide's script get a manifest made from what the backup holds.
    /// </summary>
    public static class BackupProtector
    {
        /// <param name="signing">Signs the new manifest; without it the new backup is unsigned.</param>
        /// <param name="verifier">Protects only a backup signed by one of its keys (-VerifyKey).</param>
        public static BackupInfo Protect(string path, StoreOptions storeOptions, EncryptionSettings encryption, SigningKey? signing, SignatureVerifier? verifier,
            bool keepOriginal, string moduleVersion, IOperationLog log, CancellationToken ct)
        {
            var info = OpenPgp.Describe(encryption);
            using var source = BackupSource.Open(path, storeOptions, log, ct, verifier);
            if (source.Encrypted)
                throw new PgBackupException(ErrorIds.AlreadyEncrypted, ErrorKind.InvalidArgument, $"{source.Path} is encrypted already.", source.Path);
            if (source.Format == BackupFormat.Directory)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"{source.Path} is a Directory-format backup; PgBackup encrypts single-file backups (Plain and Custom).", source.Path);
            var manifest = CheckedManifest(source, moduleVersion, log, ct);
            var newName = source.Name + BackupNaming.EncryptedSuffix;
            var plainName = source.Name;
            return Rewrite(source, manifest, newName, signing, keepOriginal, log, ct,
                sink => OpenPgp.CreateEncryptor(sink, encryption, plainName),
                stored => stored,
                m => m.Encryption = info);
        }

        public static BackupInfo Unprotect(string path, StoreOptions storeOptions, DecryptionSettings decryption, SigningKey? signing, SignatureVerifier? verifier, bool keepOriginal,
            string moduleVersion, IOperationLog log, CancellationToken ct)
        {
            using var source = BackupSource.Open(path, storeOptions, log, ct, verifier);
            if (!source.Encrypted)
                throw new PgBackupException(ErrorIds.NotEncrypted, ErrorKind.InvalidArgument, $"{source.Path} is not encrypted.", source.Path);
            source.Decryption = decryption;
            var manifest = CheckedManifest(source, moduleVersion, log, ct);
            var newName = source.Name.Substring(0, source.Name.Length - BackupNaming.EncryptedSuffix.Length);
            return Rewrite(source, manifest, newName, signing, keepOriginal, log, ct,
                sink => new NonClosingStream(sink),
                stored => OpenPgp.CreateDecryptor(stored, decryption, source.Path),
                m => m.Encryption = null);
        }

        /// <summary>Reads the whole backup (checksum, archive, script), and returns a copy of its manifest, or one made from it.</summary>
        private static BackupManifest CheckedManifest(BackupSource source, string moduleVersion, IOperationLog log, CancellationToken ct)
        {
            var report = BackupVerifier.Verify(source, new PgToolLocator(), deep: false, log, ct);
            if (!report.Passed) throw report.Failure!;
            if (source.Manifest is not null) return BackupManifest.FromJson(source.Manifest.ToJsonBytes(), source.Path);
            var parsed = BackupNaming.Parse(source.Name)!;
            log.Verbose($"{source.Name} has no manifest (made by another tool); PgBackup writes one from what the backup holds.");
            return new BackupManifest
            {
                ModuleVersion = moduleVersion,
                Name = source.Name,
                Database = parsed.Database,
                PgDumpVersion = source.PgDumpVersionText ?? "",
                Format = parsed.Format,
                Compression = parsed.Compression,
                StartTime = parsed.TimeUtc,
                EndTime = parsed.TimeUtc,
                Tables = report.ArchiveTables?.ToList() ?? new System.Collections.Generic.List<TableRowCount>(),
            };
        }

        private static BackupInfo Rewrite(BackupSource source, BackupManifest manifest, string newName, SigningKey? signing, bool keepOriginal, IOperationLog log,
            CancellationToken ct, Func<Stream, Stream> transformWrite, Func<Stream, Stream> transformRead, Action<BackupManifest> describe)
        {
            if (source.Info.Signed && signing is null)
                log.Warning($"{source.Path} is signed; its new manifest is not (the signature was for the old one). Give -SigningKey to sign it (or sign it with Copy-PgBackup -SigningKey).");
            var store = source.Store;
            if (store.Get(newName, ct) is not null || store.Get(BackupNaming.ManifestName(newName), ct) is not null)
                throw new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists, $"{store.GetPath(newName)} exists already; nothing was changed.", store.GetPath(newName));
            var activity = $"Writing {newName}";
            using var writer = store.OpenWrite(newName, ct);
            try
            {
                string storedHash;
                using (var chain = new StageChain(writer.Stream))
                {
                    var hashing = chain.Add(s => new HashingStream(s));
                    chain.Add(transformWrite);
                    using var stored = source.OpenStored(n => log.Progress(new ProgressInfo(activity, $"{n / (1 << 20)} MB")), ct);
                    using (var input = transformRead(new NonDisposingReadStream(stored)))
                        StreamPump.Copy(input, chain.Top, null, ct);
                    stored.ReadToEnd();
                    storedHash = stored.HashHex;
                    chain.Complete();
                    manifest.Sha256 = hashing.HashHex;
                    manifest.SizeBytes = hashing.BytesWritten;
                }
                if (source.Manifest is not null && !string.Equals(storedHash, source.Manifest.Sha256, StringComparison.OrdinalIgnoreCase))
                    throw new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData, $"{source.Path} changed while it was being read.", source.Path);
                writer.Finish(ct);
                manifest.Name = newName;
                describe(manifest);
                BackupEngine.WriteManifest(store, manifest, signing, ct);
                try { writer.Commit(ct); }
                catch { BackupEngine.DeleteManifest(store, newName); throw; }
            }
            catch
            {
                writer.Abort();
                throw;
            }
            log.Progress(new ProgressInfo(activity, "Done") { Completed = true });
            if (!keepOriginal)
            {
                BackupCatalog.Remove(store, source.Name, log, ct);
                log.Verbose($"Removed the original {source.Path}.");
            }
            return BackupCatalog.Get(store, newName, log, ct);
        }
    }
}
