using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace PgBackup
{
    /// <summary>
    /// Backups in an Azure Blob Storage container under a prefix (<c>az://account/container/prefix/</c>), written and
    /// read as streams. The same protocol as <see cref="S3Store"/>: blob storage cannot rename, so a backup is written
    /// under its final name as a block blob whose blocks are staged as the dump streams and committed at the end; what
    /// makes it complete is its manifest, written last. While it is written, an empty marker blob
    /// <c>&lt;name&gt;.partial</c> exists beside it (put before the first block, removed after the manifest), so that
    /// data whose manifest never arrived is listed as incomplete; <see cref="BackupCatalog.SweepStalePartials"/> removes
    /// what a crash left after a day. Staged blocks that were never committed are invisible and discarded by the service.
    /// </summary>
    public sealed class AzureStore : IBackupStore, IBlobStore
    {
        private readonly AzureConnection _azure;

        public AzureStore(AzureLocation location, StoreOptions options)
        {
            Where = location;
            Options = options;
            _azure = new AzureConnection(location, options);
        }

        public AzureLocation Where { get; }
        public StoreOptions Options { get; }
        public string Location => Where.ToString();
        public string GetPath(string name) => Where.Uri(StoreName.Check(name, Location));
        public string? GetLocalPath(string name) => null;

        /// <summary>Where the requests go and with which credential (never the secret), for verbose lines.</summary>
        public string Endpoint => $"{_azure.Endpoint} ({_azure.Credential.Source})";

        /// <summary>The blob name of <paramref name="name"/>, which must pass the rule for names (<see cref="StoreName"/>).</summary>
        private string BlobName(string name) => Where.BlobName(StoreName.Check(name, Location));

        private BlobClient Blob(string name) => _azure.Container.GetBlobClient(BlobName(name));

        public void Dispose() { }

        // ---- listing -------------------------------------------------------------------------------------------

        public IReadOnlyList<StoreEntry> List(string? under, CancellationToken cancellationToken)
        {
            var relative = under is null ? "" : under.Trim('/') + "/";
            var prefix = Where.Prefix + relative;
            var result = new List<StoreEntry>();
            var target = Where.Uri(relative);
            try
            {
                // The SDK pages through the whole listing (5,000 a page).
                foreach (var item in _azure.Container.GetBlobsByHierarchy(BlobTraits.None, BlobStates.None, "/", prefix, cancellationToken))
                {
                    if (item.IsBlob)
                    {
                        if (item.Blob.Name.Length <= prefix.Length) continue;
                        var name = item.Blob.Name.Substring(Where.Prefix.Length);
                        if (Listable(name)) result.Add(new StoreEntry(name, item.Blob.Properties.ContentLength ?? 0, Utc(item.Blob.Properties.LastModified), false));
                    }
                    else
                    {
                        var name = item.Prefix.Substring(Where.Prefix.Length).TrimEnd('/');
                        if (!Listable(name)) continue;
                        // A folder's size and time take a listing of all it holds: only for folders named like backups.
                        var leaf = name.Substring(name.LastIndexOf('/') + 1);
                        if (under is null && BackupNaming.Parse(BackupNaming.StripAuxiliarySuffix(leaf)) is null)
                            result.Add(new StoreEntry(name, 0, DateTime.MinValue, true));
                        // A folder named like a backup whose blobs all have unsafe names (say 'backup_x.sql.gz\..\..\evil',
                        // whose backslashes the service stores as '/') holds nothing that can be listed: it is left out.
                        else if (FolderEntry(name, cancellationToken) is { } folder)
                            result.Add(folder);
                    }
                }
            }
            catch (Exception e) when (!(e is PgBackupException) && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                throw _azure.Map(e, "list", target, write: false);
            }
            return result;
        }

        /// <summary>Whether a listed blob's name passes the rule for names; blobs that do not are left out.</summary>
        private static bool Listable(string name) => StoreName.Problem(name) is null;

        /// <summary>Every blob under <paramref name="prefix"/> (no delimiter), mapped to PgBackup errors.</summary>
        private List<BlobItem> ListFlat(string prefix, string target, CancellationToken ct)
        {
            try { return _azure.Container.GetBlobs(BlobTraits.None, BlobStates.None, prefix, ct).ToList(); }
            catch (Exception e) when (!(e is PgBackupException) && !(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                throw _azure.Map(e, "list", target, write: false);
            }
        }

        private StoreEntry? FolderEntry(string name, CancellationToken ct)
        {
            long size = 0;
            var newest = DateTime.MinValue;
            bool any = false;
            foreach (var b in ListFlat(BlobName(name) + "/", GetPath(name), ct))
            {
                if (StoreName.Problem(b.Name.Substring(Where.Prefix.Length)) is not null) continue; // not listed either
                any = true;
                size += b.Properties.ContentLength ?? 0;
                var t = Utc(b.Properties.LastModified);
                if (t > newest) newest = t;
            }
            return any ? new StoreEntry(name, size, newest, true) : null;
        }

        public StoreEntry? Get(string name, CancellationToken cancellationToken) =>
            GetBlob(name, cancellationToken) ?? FolderEntry(name.TrimEnd('/'), cancellationToken);

        /// <summary>
        /// The blob <paramref name="name"/>, or null, from a listing of the names it is a prefix of (the blob sorts
        /// first): unlike a HEAD, the answer for "no" is not an error response, which the SDK turns into exceptions.
        /// </summary>
        private StoreEntry? GetBlob(string name, CancellationToken ct)
        {
            var blobName = BlobName(name);
            try
            {
                foreach (var page in _azure.Container.GetBlobs(BlobTraits.None, BlobStates.None, blobName, ct).AsPages(pageSizeHint: 1))
                {
                    var first = page.Values.FirstOrDefault();
                    return first is not null && string.Equals(first.Name, blobName, StringComparison.Ordinal)
                        ? new StoreEntry(name, first.Properties.ContentLength ?? 0, Utc(first.Properties.LastModified), false)
                        : null;
                }
                return null;
            }
            catch (Exception e) when (!(e is PgBackupException) && !(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                throw _azure.Map(e, "read", GetPath(name), write: false);
            }
        }

        private static DateTime Utc(DateTimeOffset? t) => t.HasValue ? t.Value.UtcDateTime : DateTime.MinValue;

        // ---- reading -------------------------------------------------------------------------------------------

        /// <summary>
        /// Reads the blob as a stream of ranged downloads (4 MiB at a time), all of the same version (If-Match on the
        /// ETag it had when opened): a read that breaks is retried by the SDK from where it stopped.
        /// </summary>
        public Stream OpenRead(string name, CancellationToken cancellationToken)
        {
            var target = GetPath(name);
            var blob = Blob(name);
            var body = _azure.Call(c => blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = 4 << 20 }, c), "read", target, write: false, cancellationToken);
            return new MappedReadStream(body, _azure, target, cancellationToken);
        }

        /// <summary>The SDK's read stream, with its failures as PgBackup errors.</summary>
        private sealed class MappedReadStream : ReadOnlyStream
        {
            private readonly Stream _body;
            private readonly AzureConnection _azure;
            private readonly string _target;
            private readonly CancellationToken _ct;
            private long _position;

            public MappedReadStream(Stream body, AzureConnection azure, string target, CancellationToken ct)
            {
                _body = body;
                _azure = azure;
                _target = target;
                _ct = ct;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                _ct.ThrowIfCancellationRequested();
                try
                {
                    int n = _body.ReadAsync(buffer, offset, count, _ct).GetAwaiter().GetResult();
                    _position += n;
                    return n;
                }
                catch (Exception e) when (!(e is PgBackupException) && !(e is OperationCanceledException && _ct.IsCancellationRequested))
                {
                    var mapped = _azure.Map(e, "read", _target, write: false);
                    throw new PgBackupException(ErrorIds.BackupReadFailed, ErrorKind.ReadError, $"Reading {_target} failed after {_position:N0} bytes: {mapped.Message}", _target, mapped);
                }
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) _body.Dispose();
                base.Dispose(disposing);
            }

            public override long Length => _body.Length;
            public override long Position { get => _position; set => throw new NotSupportedException(); }
        }

        // ---- writing -------------------------------------------------------------------------------------------

        public IStoreWriter OpenWrite(string name, CancellationToken cancellationToken) => BlobStores.OpenWrite(this, name, cancellationToken);

        public IDirectoryWriter OpenDirectoryWrite(string name, CancellationToken cancellationToken) => new BlobFolderWriter(this, name, cancellationToken);

        /// <summary>Puts the empty marker blob that says "being written" (it replaces one left by an interrupted run).</summary>
        void IBlobStore.PutMarker(string name, CancellationToken ct)
        {
            var marker = BackupNaming.PartialName(name);
            var blob = Blob(marker);
            _azure.Call(c => blob.UploadAsync(new MemoryStream(Array.Empty<byte>()), overwrite: true, c), "write", GetPath(marker), write: true, ct);
        }

        void IBlobStore.RemoveMarker(string name, CancellationToken ct)
        {
            var marker = BackupNaming.PartialName(name);
            var blob = Blob(marker);
            _azure.Call(c => blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, null, c), "remove", GetPath(marker), write: true, ct);
        }

        /// <summary>The access tier is for the data; manifests and signatures are read by every listing and stay in the account's default tier.</summary>
        BlockUploadStream IBlobStore.Upload(string name, bool data, CancellationToken ct) =>
            new AzureUploadStream(_azure, BlobName(name), GetPath(name), withTier: data, ct);

        bool IBlobStore.ObjectExists(string name, CancellationToken ct) => GetBlob(name, ct) is not null;

        string IBlobStore.StagingPrefix => "pgbackup-az-";

        // ---- deleting ------------------------------------------------------------------------------------------

        /// <summary>
        /// Deletes the blob <paramref name="name"/> (with its snapshots) and every blob under <c>name/</c>. A blob under
        /// an immutability policy or legal hold is an error (<c>AzureBlobImmutable</c>) and stays.
        /// </summary>
        public void Delete(string name, CancellationToken cancellationToken)
        {
            name = name.TrimEnd('/');
            var single = Blob(name);
            _azure.Call(c => single.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, null, c), "delete", GetPath(name), write: true, cancellationToken);
            foreach (var b in ListFlat(BlobName(name) + "/", GetPath(name), cancellationToken))
            {
                var blob = _azure.Container.GetBlobClient(b.Name);
                var target = Where.Uri(b.Name.Substring(Where.Prefix.Length));
                _azure.Call(c => blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, null, c), "delete", target, write: true, cancellationToken);
            }
        }
    }
}
