using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>Lists the backups in a store: PgBackup's own (from manifests), the guide's, and incomplete ones.</summary>
    public static class BackupCatalog
    {
        /// <summary>
        /// Every backup in <paramref name="store"/>, newest first. Files that are not backups are ignored. With
        /// <paramref name="verifier"/>, each backup's signature is checked (<see cref="BackupInfo.SignatureValid"/>).
        /// </summary>
        public static List<BackupInfo> List(IBackupStore store, IOperationLog log, CancellationToken cancellationToken, SignatureVerifier? verifier = null)
        {
            var entries = store.List(null, cancellationToken);
            var byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
            var result = new List<BackupInfo>();
            var accounted = new HashSet<string>(StringComparer.Ordinal);

            foreach (var entry in entries.Where(e => !e.IsDirectory && e.Name.EndsWith(BackupNaming.ManifestSuffix, StringComparison.Ordinal)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var dataName = entry.Name.Substring(0, entry.Name.Length - BackupNaming.ManifestSuffix.Length);
                if (BackupNaming.Parse(dataName) is null) continue;
                accounted.Add(dataName);
                result.Add(Describe(store, dataName, entry, byName.TryGetValue(dataName, out var d) ? d : null,
                    byName.ContainsKey(BackupNaming.SignatureName(dataName)), verifier, log, cancellationToken));
            }

            foreach (var entry in entries)
            {
                if (accounted.Contains(entry.Name)) continue;
                if (entry.Name.EndsWith(BackupNaming.PartialSuffix, StringComparison.Ordinal))
                {
                    var baseName = entry.Name.Substring(0, entry.Name.Length - BackupNaming.PartialSuffix.Length);
                    var parsed = BackupNaming.Parse(baseName);
                    // A partial whose manifest was committed is already listed with it; one beside its data (an object
                    // store's "being written" marker) is listed with the data, below.
                    if (parsed is null || accounted.Contains(baseName) || byName.ContainsKey(baseName)) continue;
                    result.Add(FromName(store, baseName, parsed, entry, BackupStatus.Incomplete,
                        $"Being written, or interrupted: only {entry.Name} exists."));
                    continue;
                }
                var p = BackupNaming.Parse(entry.Name);
                if (p is null) continue;
                if (byName.TryGetValue(BackupNaming.PartialName(entry.Name), out var marker))
                    result.Add(FromName(store, entry.Name, p, entry, BackupStatus.Incomplete, UploadedWithoutManifest(marker.Name)));
                else if (p.IsGuideStyle && !entry.IsDirectory)
                    result.Add(FromName(store, entry.Name, p, entry, BackupStatus.NoManifest,
                        entry.SizeBytes > BackupInfo.GuideEmptyGzipSize
                            ? "No manifest: made by another tool (such as the guide's backup-database.sh); time from its name."
                            : "No manifest, and empty: pg_dump wrote nothing."));
                else
                    result.Add(FromName(store, entry.Name, p, entry, BackupStatus.Incomplete, "Its manifest is missing."));
            }
            foreach (var b in result) Unsigned(b, verifier);
            return result.OrderByDescending(b => b.StartTime).ThenByDescending(b => b.Name, StringComparer.Ordinal).ToList();
        }

        /// <summary>A backup of another tool has no manifest to sign: with a verifier it is refused.</summary>
        private static BackupInfo Unsigned(BackupInfo b, SignatureVerifier? verifier)
        {
            if (verifier is null || b.Status != BackupStatus.NoManifest) return b;
            b.SignatureValid = false;
            b.Refusal = new PgBackupException(ErrorIds.SignatureMissing, ErrorKind.SecurityError,
                $"{b.Path} has no manifest, so no signature, and -VerifyKey requires one. The backup was not used; nothing was changed.", b.Path)
            { RecommendedAction = "Protect-PgBackup -SigningKey gives it a manifest and a signature (and encrypts it)." };
            return b;
        }

        /// <summary>Reads one backup given its name in the store (the data's name, not the manifest's); see <see cref="List"/>.</summary>
        public static BackupInfo Get(IBackupStore store, string name, IOperationLog log, CancellationToken cancellationToken, SignatureVerifier? verifier = null)
        {
            name = BackupNaming.StripAuxiliarySuffix(name);
            var parsed = BackupNaming.Parse(name);
            var data = store.Get(name, cancellationToken);
            var manifest = store.Get(BackupNaming.ManifestName(name), cancellationToken);
            if (manifest is not null)
                return Describe(store, name, manifest, data, store.Get(BackupNaming.SignatureName(name), cancellationToken) is not null, verifier, NullLog.Instance, cancellationToken);
            if (data is null)
            {
                var partial = store.Get(BackupNaming.PartialName(name), cancellationToken);
                if (partial is not null && parsed is not null)
                    return FromName(store, name, parsed, partial, BackupStatus.Incomplete, $"Being written, or interrupted: only {partial.Name} exists.");
                throw new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, $"{store.GetPath(name)} does not exist.", store.GetPath(name));
            }
            if (parsed is null)
                throw new PgBackupException(ErrorIds.NotABackup, ErrorKind.InvalidArgument,
                    $"{store.GetPath(name)} is not a backup: its name is not backup_<database>_<yyyyMMdd_HHmmss> with a backup extension, and it has no manifest.", store.GetPath(name));
            var marker = store.Get(BackupNaming.PartialName(name), cancellationToken);
            if (marker is not null)
                return FromName(store, name, parsed, data, BackupStatus.Incomplete, UploadedWithoutManifest(marker.Name));
            if (parsed.IsGuideStyle && !data.IsDirectory)
                return Unsigned(FromName(store, name, parsed, data, BackupStatus.NoManifest,
                    data.SizeBytes > BackupInfo.GuideEmptyGzipSize ? "No manifest: made by another tool; time from its name." : "No manifest, and empty: pg_dump wrote nothing."), verifier);
            return FromName(store, name, parsed, data, BackupStatus.Incomplete, "Its manifest is missing.");
        }

        /// <summary>
        /// Object stores cannot rename: data is stored under its final name, with a "being written" marker beside it
        /// until the manifest is written. Data with its marker and no manifest is an interrupted backup.
        /// </summary>
        private static string UploadedWithoutManifest(string markerName) =>
            $"Interrupted: its data was stored but its manifest was never written ({markerName} still marks it as being written).";

        private static BackupInfo Describe(IBackupStore store, string dataName, StoreEntry manifestEntry, StoreEntry? data, bool signed, SignatureVerifier? verifier,
            IOperationLog log, CancellationToken cancellationToken)
        {
            var source = store.GetPath(manifestEntry.Name);
            PgBackupException? signatureError = null;
            BackupManifest m;
            try
            {
                byte[] json;
                using (var s = store.OpenRead(manifestEntry.Name, cancellationToken)) json = BackupManifest.ReadBounded(s, source);
                // The signature is checked on the manifest's bytes, before anything in them is believed.
                if (verifier is not null) signatureError = CheckSignature(store, dataName, json, signed, verifier, log, cancellationToken);
                m = BackupManifest.Read(json, source, dataName);
            }
            catch (PgBackupException e)
            {
                var parsed = BackupNaming.Parse(dataName)!;
                var broken = FromName(store, dataName, parsed, data ?? manifestEntry, BackupStatus.Incomplete, "Its manifest cannot be read: " + e.Message, refusal: signatureError ?? e);
                broken.Signed = signed;
                broken.SignatureValid = verifier is null ? null : signatureError is null;
                return broken;
            }
            if (!string.Equals(m.Name, dataName, StringComparison.Ordinal))
            {
                // Renamed by hand: the files' names are what counts; but a signature vouches for the name it signed.
                if (verifier is not null && signatureError is null)
                    signatureError = new PgBackupException(ErrorIds.SignatureInvalid, ErrorKind.SecurityError,
                        $"{store.GetPath(dataName)}'s signed manifest is that of {m.Name}: the backup was renamed or put in another's place. The backup was not used; nothing was changed.", store.GetPath(dataName));
                m.Name = dataName;
            }
            BackupInfo info;
            if (data is null)
                info = BackupInfo.FromManifest(m, store, BackupStatus.Incomplete,
                    store.Get(BackupNaming.PartialName(dataName), cancellationToken) is not null
                        ? "Interrupted before it was committed (the data is still .partial)."
                        : "Its data is missing: only the manifest exists.", 0);
            else if (data.SizeBytes != m.SizeBytes)
                info = BackupInfo.FromManifest(m, store, BackupStatus.Incomplete,
                    $"Its size ({data.SizeBytes} bytes) differs from the manifest's ({m.SizeBytes} bytes): truncated or changed.", data.SizeBytes);
            else info = BackupInfo.FromManifest(m, store, BackupStatus.Complete, null);
            info.Signed = signed;
            info.SignatureValid = verifier is null ? null : signatureError is null;
            info.Refusal = signatureError;
            return info;
        }

        /// <summary>The signature check's refusal (SignatureMissing, -Invalid, -KeyMismatch), or null when it passed.</summary>
        private static PgBackupException? CheckSignature(IBackupStore store, string dataName, byte[] json, bool signed, SignatureVerifier verifier,
            IOperationLog log, CancellationToken ct)
        {
            var path = store.GetPath(dataName);
            try
            {
                byte[]? signature = null;
                if (signed)
                {
                    using var s = store.OpenRead(BackupNaming.SignatureName(dataName), ct);
                    signature = ReadOnlyStream.ReadAtMost(s, SignatureVerifier.MaxSignatureBytes)
                        ?? throw new PgBackupException(ErrorIds.SignatureInvalid, ErrorKind.SecurityError, $"The signature of {path} is larger than {SignatureVerifier.MaxSignatureBytes >> 20} MiB: it is not one.", path);
                }
                var signer = verifier.Verify(json, signature, path);
                log.Verbose($"{path}: its manifest is signed by {signer} (a key in {verifier.KeyFile}).");
                return null;
            }
            catch (PgBackupException e) { return e; }
        }

        private static BackupInfo FromName(IBackupStore store, string name, ParsedBackupName parsed, StoreEntry entry, BackupStatus status, string detail,
            PgBackupException? refusal = null) => new BackupInfo
        {
            Refusal = refusal,
            Name = name,
            Path = store.GetPath(name),
            Location = store.Location,
            Database = parsed.Database,
            Format = parsed.Format,
            Compression = parsed.Compression,
            SizeBytes = entry.SizeBytes,
            StartTime = parsed.TimeUtc,
            Status = status,
            StatusDetail = detail,
            Encrypted = parsed.Encrypted,
            StoreOptions = StoreFactory.OptionsOf(store),
        };

        /// <summary>
        /// Deletes one backup: its data (file or folder), then its manifest, and a partial file of the same name. The data
        /// goes first, so that an interrupted removal leaves a manifest without data (incomplete), never data without
        /// manifest (which could pass for a good backup). Refuses names that are not backups.
        /// </summary>
        public static void Remove(IBackupStore store, string name, IOperationLog log, CancellationToken cancellationToken)
        {
            name = BackupNaming.StripAuxiliarySuffix(name);
            if (BackupNaming.Parse(name) is null)
                throw new PgBackupException(ErrorIds.NotABackup, ErrorKind.InvalidArgument,
                    $"{store.GetPath(name)} is not a backup; nothing was removed.", store.GetPath(name));
            var partList = new List<string> { name, BackupNaming.PartialName(name) };
            // The roles file the manifest names goes with the backup (before the manifest that names it); a manifest
            // that names anything but this backup's own roles file is not followed.
            try
            {
                if (store.Get(BackupNaming.ManifestName(name), cancellationToken) is not null)
                {
                    var source = store.GetPath(BackupNaming.ManifestName(name));
                    using var ms = store.OpenRead(BackupNaming.ManifestName(name), cancellationToken);
                    var g = BackupManifest.Read(BackupManifest.ReadBounded(ms, source), source, name).Globals?.Name;
                    if (g is not null) { partList.Add(g); partList.Add(BackupNaming.PartialName(g)); }
                }
            }
            catch (PgBackupException e) { log.Verbose($"Not following the manifest of {name} to a roles file: {e.Message}"); }
            partList.Add(BackupNaming.SignatureName(name));
            partList.Add(BackupNaming.ManifestName(name));
            partList.Add(BackupNaming.PartialName(BackupNaming.ManifestName(name)));
            var parts = partList.ToArray();
            bool any = false;
            foreach (var part in parts)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (store.Get(part, cancellationToken) is null) continue;
                any = true;
                store.Delete(part, cancellationToken);
                log.Verbose($"Removed {store.GetPath(part)}.");
            }
            if (!any)
                throw new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, $"{store.GetPath(name)} does not exist.", store.GetPath(name));
        }

        /// <summary>Reads the backup at a path (its data, its manifest or its partial file); refuses paths that are not backups.</summary>
        public static BackupInfo GetAt(string path, StoreOptions options, IOperationLog log, CancellationToken cancellationToken, SignatureVerifier? verifier = null)
        {
            var (store, name) = StoreFactory.OpenBackup(path, options);
            using (store)
            {
                var info = Get(store, name, log, cancellationToken, verifier);
                info.StoreOptions = options;
                return info;
            }
        }

        /// <summary>Removes the backup at a path (see <see cref="Remove"/>): what Remove-PgBackup and retention do.</summary>
        public static void RemoveAt(string path, StoreOptions options, IOperationLog log, CancellationToken cancellationToken)
        {
            var (store, name) = StoreFactory.OpenBackup(path, options);
            using (store) Remove(store, name, log, cancellationToken);
        }

        /// <summary>
        /// Every backup in the locations of <paramref name="backups"/> that is in the same group as one of them (the same
        /// database in the same location): the whole history that retention plans over after a new backup.
        /// </summary>
        public static List<BackupInfo> ListGroupsOf(IEnumerable<BackupInfo> backups, IOperationLog log, CancellationToken cancellationToken, SignatureVerifier? verifier = null)
        {
            var result = new List<BackupInfo>();
            foreach (var location in backups.GroupBy(b => b.Location, StringComparer.Ordinal))
            {
                var groups = new HashSet<string>(location.Select(b => b.Group), StringComparer.Ordinal);
                var first = location.First();
                using var store = StoreFactory.OpenLocation(location.Key, first.StoreOptions, create: false);
                foreach (var b in List(store, log, cancellationToken, verifier))
                {
                    if (!groups.Contains(b.Group)) continue;
                    b.StoreOptions = first.StoreOptions;
                    result.Add(b);
                }
            }
            return result;
        }

        /// <summary>
        /// Deletes partial files left by interrupted backups that nothing has written to for
        /// <paramref name="olderThan"/>. Returns their names. In an object store a partial is a marker beside data that
        /// never got its manifest: that data goes too; and multipart uploads abandoned as long are aborted.
        /// <paramref name="listing"/>: the store's top-level listing, when the caller has just made it.
        /// </summary>
        public static List<string> SweepStalePartials(IBackupStore store, TimeSpan olderThan, IOperationLog log, CancellationToken cancellationToken,
            IReadOnlyList<StoreEntry>? listing = null)
        {
            var swept = new List<string>();
            var cutoff = DateTime.UtcNow - olderThan;
            foreach (var e in listing ?? store.List(null, cancellationToken))
            {
                if (!e.Name.EndsWith(BackupNaming.PartialSuffix, StringComparison.Ordinal)) continue;
                if (BackupNaming.Parse(BackupNaming.StripAuxiliarySuffix(e.Name)) is null || e.LastModifiedUtc > cutoff) continue;
                var dataName = e.Name.Substring(0, e.Name.Length - BackupNaming.PartialSuffix.Length);
                try
                {
                    // Data first, then its marker: an interruption leaves the marker, so the data never passes for a
                    // backup made by another tool.
                    if (store.GetLocalPath(e.Name) is null && !dataName.EndsWith(BackupNaming.ManifestSuffix, StringComparison.Ordinal) &&
                        store.Get(BackupNaming.ManifestName(dataName), cancellationToken) is null && store.Get(dataName, cancellationToken) is not null)
                    {
                        store.Delete(dataName, cancellationToken);
                        swept.Add(dataName);
                        log.Verbose($"Removed {store.GetPath(dataName)}, stored by an interrupted backup that never wrote its manifest.");
                    }
                    store.Delete(e.Name, cancellationToken);
                    swept.Add(e.Name);
                    log.Verbose($"Removed {store.GetPath(e.Name)}, left by an interrupted backup (last written {e.LastModifiedUtc:u}).");
                }
                catch (PgBackupException ex)
                {
                    log.Warning($"Could not remove the stale partial file {store.GetPath(e.Name)}: {ex.Message}");
                }
            }
            if (store is S3Store s3)
            {
                try
                {
                    foreach (var key in s3.AbortStaleUploads(cutoff, cancellationToken))
                    {
                        swept.Add(key);
                        log.Verbose($"Aborted the unfinished multipart upload of {store.GetPath(key)} (nothing uploaded to it since {cutoff:u}).");
                    }
                }
                catch (PgBackupException ex) when (ex.ErrorId == ErrorIds.S3AccessDenied)
                {
                    // Least-privilege keys often lack s3:ListBucketMultipartUploads; a lifecycle rule can do this instead.
                    log.Verbose($"Did not look for abandoned multipart uploads in {store.Location} (not allowed: {ex.Message}). A bucket lifecycle rule (AbortIncompleteMultipartUpload) can remove them instead.");
                }
                catch (PgBackupException ex) when (ex.ErrorId != ErrorIds.S3BucketNotFound)
                {
                    log.Warning($"Could not look for abandoned multipart uploads in {store.Location}: {ex.Message}");
                }
            }
            return swept;
        }
    }
}
