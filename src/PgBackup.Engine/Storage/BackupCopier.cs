using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>What Copy-PgBackup was asked to do.</summary>
    public sealed class CopyRequest
    {
        /// <summary>The backup's path or s3:// URI.</summary>
        public string SourcePath { get; init; } = "";
        public StoreOptions SourceOptions { get; init; } = StoreOptions.Default;
        /// <summary>A folder or an s3:// prefix.</summary>
        public string Destination { get; init; } = "";
        public StoreOptions DestinationOptions { get; init; } = StoreOptions.Default;
        /// <summary>Replace a backup of the same name at the destination.</summary>
        public bool Force { get; init; }
        /// <summary>
        /// When given and the backup is encrypted, the copy is also decrypted (and decompressed) on its way, so that a
        /// copy that would not open with these secrets is not kept.
        /// </summary>
        public DecryptionSettings Decryption { get; init; } = DecryptionSettings.None;
        /// <summary>Copy only a backup signed by one of these keys (-VerifyKey).</summary>
        public SignatureVerifier? VerifyKey { get; init; }
        /// <summary>Sign the copy's manifest with this key; without it, the source's signature (if any) is copied.</summary>
        public SigningKey? Signing { get; init; }
    }

    /// <summary>
    /// Copies a backup between folders and buckets: its data (a file, or a Directory backup's files), then its
    /// manifest, last, so that the copy is complete only when all of it arrived. Every byte is hashed on its way to the
    /// destination (and each S3 part carries its Content-MD5, which the service checks); when the SHA-256 differs from
    /// the manifest's, the copy is removed and the copy fails.
    /// </summary>
    public static class BackupCopier
    {
        public static BackupInfo Copy(CopyRequest request, IOperationLog log, CancellationToken ct)
        {
            using var source = BackupSource.Open(request.SourcePath, request.SourceOptions, log, ct, request.VerifyKey);
            source.Decryption = request.Decryption;
            using var destination = StoreFactory.OpenLocation(request.Destination, request.DestinationOptions, create: true);
            var name = source.Name;
            var target = destination.GetPath(name);
            if (string.Equals(target, source.Path, StringComparison.Ordinal))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"{source.Path} is already in {destination.Location}: the destination must be another folder or prefix.", source.Path);

            // A partial file or marker alone is what an interrupted copy left: the writer replaces it (unless a live
            // writer holds it), so that the same copy simply runs again.
            var existing = new[] { name, BackupNaming.ManifestName(name) }
                .Where(n => destination.Get(n, ct) is not null).ToList();
            if (existing.Count > 0)
            {
                if (!request.Force)
                    throw new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists,
                        $"{target} already exists; nothing was copied. Use -Force to replace it.", target);
                log.Verbose($"Replacing {target} (-Force).");
                BackupCatalog.Remove(destination, name, log, ct);
            }

            var activity = $"Copying {name} to {destination.Location}";
            log.Verbose($"Copying {source.Path} to {target}.");
            try
            {
                if (source.Format == BackupFormat.Directory) CopyDirectory(source, destination, request.Signing, log, activity, ct);
                else CopyFile(source, destination, request.Signing, log, activity, ct);
            }
            finally
            {
                log.Progress(new ProgressInfo(activity, "Done") { Completed = true });
            }
            return BackupCatalog.Get(destination, name, log, ct);
        }

        private static Action<long> Progress(IOperationLog log, string activity, long total)
        {
            long last = -1;
            return n =>
            {
                long mb = n >> 20;
                if (mb == last) return;
                last = mb;
                log.Progress(new ProgressInfo(activity, $"{ByteProgress.Format(n)} of {ByteProgress.Format(total)}")
                { PercentComplete = total > 0 ? (int)Math.Min(100, n * 100 / total) : -1 });
            };
        }

        private static PgBackupException Mismatch(string what, string target) =>
            new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                $"{what}: the source was changed or damaged after the backup, or damaged on the way. The copy at {target} was removed.", target);

        private static void CopyFile(BackupSource source, IBackupStore destination, SigningKey? signing, IOperationLog log, string activity, CancellationToken ct)
        {
            var name = source.Name;
            var manifest = source.Manifest;
            using var writer = destination.OpenWrite(name, ct);
            try
            {
                using (var stored = source.OpenStored(Progress(log, activity, source.Info.SizeBytes), ct))
                using (var hashing = new HashingStream(writer.Stream))
                {
                    if (source.Encrypted && source.Decryption.HasAny) CopyDecrypting(source, stored, hashing, destination.GetPath(name), log, ct);
                    else StreamPump.Copy(stored, hashing, null, ct);
                    writer.Finish(ct);
                    if (manifest is not null)
                    {
                        if (hashing.BytesWritten != manifest.SizeBytes)
                            throw Mismatch($"{hashing.BytesWritten:N0} bytes arrived; the manifest says {manifest.SizeBytes:N0}", destination.GetPath(name));
                        if (!string.Equals(hashing.HashHex, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
                            throw Mismatch("The SHA-256 of what arrived differs from the manifest's", destination.GetPath(name));
                        log.Verbose($"SHA-256 {manifest.Sha256.Substring(0, 12)}... of {hashing.BytesWritten:N0} bytes matches the manifest.");
                    }
                    else log.Verbose($"Copied {hashing.BytesWritten:N0} bytes (SHA-256 {hashing.HashHex.Substring(0, 12)}...); no manifest to compare with (made by another tool).");
                }
                if (manifest is not null)
                {
                    CopyGlobals(source, destination, log, ct);
                    CopyManifest(source, destination, signing, ct);
                }
                else if (signing is not null)
                    log.Warning($"{source.Path} has no manifest (made by another tool), so its copy has no signature either.");
                try { writer.Commit(ct); }
                catch { BackupEngine.DeleteManifest(destination, name); throw; }
            }
            catch
            {
                writer.Abort();
                throw;
            }
        }

        /// <summary>
        /// Copies the stored bytes while decrypting (and, for Plain backups, decompressing) them to the end: the copy is
        /// kept only when it opens with the secrets given and its OpenPGP integrity check passes.
        /// </summary>
        private static void CopyDecrypting(BackupSource source, Stream stored, Stream copy, string target, IOperationLog log, CancellationToken ct)
        {
            var tee = new TeeReadStream(stored, copy);
            try
            {
                using (var decoded = source.Decode(new NonDisposingReadStream(tee)))
                using (var sink = new NullSinkStream())
                {
                    StreamPump.Copy(decoded, sink, null, ct);
                    log.Verbose($"The copy decrypts{(source.Format == BackupFormat.Plain ? " and decompresses" : "")} with the secrets given ({sink.BytesWritten:N0} bytes of archive); its integrity check passed.");
                }
                tee.ReadToEnd();
            }
            catch (PgBackupException e) when (e.ErrorId == ErrorIds.DecryptionFailed || e.ErrorId == ErrorIds.IntegrityCheckFailed || e.ErrorId == ErrorIds.WrongPassphrase)
            {
                throw new PgBackupException(e.ErrorId, e.Kind, $"{e.Message} Nothing was copied to {target}.", target, e);
            }
            catch (Exception e) when (PgBackup.Compression.IsDamagedData(e))
            {
                throw new PgBackupException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                    $"{source.Path} decrypts but does not decompress ({e.Message}); nothing was copied to {target}.", target, e);
            }
        }

        private static void CopyDirectory(BackupSource source, IBackupStore destination, SigningKey? signing, IOperationLog log, string activity, CancellationToken ct)
        {
            var name = source.Name;
            var manifest = source.Manifest!; // a Directory backup without manifest is incomplete: BackupSource refuses it
            var files = manifest.Files ?? new List<BackupFileEntry>();
            var present = new HashSet<string>(BackupVerifier.ListFiles(source, ct), StringComparer.Ordinal);
            var missing = files.Select(f => f.Name).Where(f => !present.Contains(f)).ToList();
            var extra = present.Except(files.Select(f => f.Name)).ToList();
            if (missing.Count > 0 || extra.Count > 0)
                throw new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                    $"{source.Path} differs from its manifest ({(missing.Count > 0 ? "missing: " + string.Join(", ", missing.Take(5)) : "")}{(missing.Count > 0 && extra.Count > 0 ? "; " : "")}{(extra.Count > 0 ? "not in the manifest: " + string.Join(", ", extra.Take(5)) : "")}); nothing was copied.", source.Path);

            using var writer = destination.OpenDirectoryWrite(name, ct);
            try
            {
                Directory.CreateDirectory(writer.LocalPath);
                long done = 0, total = files.Sum(f => f.SizeBytes);
                var progress = Progress(log, activity, total);
                foreach (var f in files)
                {
                    ct.ThrowIfCancellationRequested();
                    var local = StoreName.LocalPath(writer.LocalPath, f.Name);
                    Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                    long before = done;
                    using (var input = new HashingReadStream(source.Store.OpenRead(name + "/" + f.Name, ct), n => progress(before + n)))
                    using (var output = new FileStream(local, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                    {
                        input.CopyTo(output, 1 << 20);
                        done += input.BytesRead;
                        if (input.BytesRead != f.SizeBytes || !string.Equals(input.HashHex, f.Sha256, StringComparison.OrdinalIgnoreCase))
                            throw Mismatch($"The file {f.Name} ({input.BytesRead:N0} bytes) differs from the manifest's SHA-256", destination.GetPath(name));
                    }
                }
                if (!string.Equals(BackupEngine.DirectoryHash(files), manifest.Sha256, StringComparison.OrdinalIgnoreCase))
                    throw Mismatch("The files' combined SHA-256 differs from the manifest's", destination.GetPath(name));
                log.Verbose($"All {files.Count} files match the manifest's SHA-256.");
                writer.Finish(ct);
                CopyGlobals(source, destination, log, ct);
                CopyManifest(source, destination, signing, ct);
                try { writer.Commit(ct); }
                catch { BackupEngine.DeleteManifest(destination, name); throw; }
            }
            catch
            {
                writer.Abort();
                throw;
            }
        }

        /// <summary>
        /// The manifest's bytes as they were read (so that a signature over them still fits) and its signature: a new
        /// one with <paramref name="signing"/>, else the source's own, when it has one.
        /// </summary>
        private static void CopyManifest(BackupSource source, IBackupStore destination, SigningKey? signing, CancellationToken ct)
        {
            var json = source.Manifest!.Json ?? source.Manifest.ToJsonBytes();
            var signature = signing?.Sign(json);
            if (signature is null && source.Info.Signed)
            {
                using var s = source.Store.OpenRead(BackupNaming.SignatureName(source.Name), ct);
                signature = ReadOnlyStream.ReadAtMost(s, SignatureVerifier.MaxSignatureBytes);
            }
            BackupEngine.WriteManifest(destination, source.Name, json, signature, ct);
        }

        /// <summary>The roles file saved beside a backup (when there is one), verified like the backup.</summary>
        private static void CopyGlobals(BackupSource source, IBackupStore destination, IOperationLog log, CancellationToken ct)
        {
            var globals = source.Manifest?.Globals;
            if (globals is null || string.IsNullOrEmpty(globals.Name) || source.Store.Get(globals.Name, ct) is null) return;
            if (destination.Get(globals.Name, ct) is not null) destination.Delete(globals.Name, ct);
            using var writer = destination.OpenWrite(globals.Name, ct);
            using (var input = new HashingReadStream(source.Store.OpenRead(globals.Name, ct)))
            {
                input.CopyTo(writer.Stream, 1 << 20);
                writer.Finish(ct);
                if (!string.Equals(input.HashHex, globals.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    writer.Abort();
                    throw Mismatch($"The roles file {globals.Name} differs from the manifest's SHA-256", destination.GetPath(globals.Name));
                }
            }
            writer.Commit(ct);
            log.Verbose($"Copied {globals.Name}.");
        }
    }
}
