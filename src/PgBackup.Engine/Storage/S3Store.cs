using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using Amazon.S3;
using Amazon.S3.Model;

namespace PgBackup
{
    /// <summary>
    /// Backups in an S3 bucket under a prefix (<c>s3://bucket/prefix/</c>), written and read as streams.
    /// <para>
    /// S3 cannot rename, so a backup is written under its final key, and what makes it complete is its manifest,
    /// written last, after the upload completed. While it is written, an empty marker object <c>&lt;name&gt;.partial</c>
    /// exists beside it (put before the first byte is sent, removed after the manifest is written): a data object whose
    /// manifest never arrived still has its marker and is listed as incomplete, never mistaken for a backup made by
    /// another tool (which has no manifest either). Interrupted uploads are aborted; what a crash leaves (markers,
    /// their data, multipart uploads) is swept by <see cref="BackupCatalog.SweepStalePartials"/> after a day.
    /// </para>
    /// </summary>
    public sealed class S3Store : IBackupStore, IBlobStore
    {
        private readonly S3Connection _s3;

        public S3Store(string location, StoreOptions options)
            : this(S3Location.Parse(location), options) { }

        public S3Store(S3Location location, StoreOptions options)
        {
            Where = location;
            Options = options;
            _s3 = new S3Connection(options);
        }

        public S3Location Where { get; }
        public StoreOptions Options { get; }
        public string Location => Where.ToString();
        public string GetPath(string name) => Where.Uri(StoreName.Check(name, Location));

        /// <summary>The object key of <paramref name="name"/>, which must pass the rule for names (<see cref="StoreName"/>).</summary>
        private string Key(string name) => Where.Key(StoreName.Check(name, Location));
        public string? GetLocalPath(string name) => null;

        /// <summary>Where the requests go (endpoint or AWS region), for verbose lines.</summary>
        public string Endpoint => _s3.Endpoint;

        internal S3Connection Connection => _s3;

        public void Dispose() => _s3.Dispose();

        // ---- listing -------------------------------------------------------------------------------------------

        public IReadOnlyList<StoreEntry> List(string? under, CancellationToken cancellationToken)
        {
            var relative = under is null ? "" : under.Trim('/') + "/";
            var prefix = Where.Prefix + relative;
            var result = new List<StoreEntry>();
            foreach (var page in ListPages(prefix, "/", cancellationToken))
            {
                foreach (var o in page.S3Objects ?? new List<S3Object>())
                {
                    if (o.Key.Length <= prefix.Length) continue; // the "folder" object itself
                    var name = o.Key.Substring(Where.Prefix.Length);
                    if (Listable(name)) result.Add(new StoreEntry(name, o.Size ?? 0, Utc(o.LastModified), false));
                }
                foreach (var p in page.CommonPrefixes ?? new List<string>())
                {
                    var name = p.Substring(Where.Prefix.Length).TrimEnd('/');
                    if (!Listable(name)) continue;
                    // A folder's size and time take a listing of all it holds: only for folders named like backups.
                    var leaf = name.Substring(name.LastIndexOf('/') + 1);
                    if (under is null && BackupNaming.Parse(BackupNaming.StripAuxiliarySuffix(leaf)) is null)
                        result.Add(new StoreEntry(name, 0, DateTime.MinValue, true));
                    else
                        result.Add(FolderEntry(name, cancellationToken) ?? new StoreEntry(name, 0, DateTime.MinValue, true));
                }
            }
            return result;
        }

        /// <summary>Whether a listed key's name passes the rule for names; keys that do not are left out, as a folder's are.</summary>
        private static bool Listable(string name) => StoreName.Problem(name) is null;

        /// <summary>Every page of a ListObjectsV2 listing (S3 returns at most 1,000 keys a page).</summary>
        private IEnumerable<ListObjectsV2Response> ListPages(string prefix, string? delimiter, CancellationToken ct)
        {
            string? token = null;
            do
            {
                var request = new ListObjectsV2Request { BucketName = Where.Bucket, Prefix = prefix, Delimiter = delimiter, ContinuationToken = token };
                var page = _s3.Call(c => _s3.Client.ListObjectsV2Async(request, c), "list", Where.Uri(prefix.Substring(Where.Prefix.Length)), write: false, ct);
                yield return page;
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            } while (!string.IsNullOrEmpty(token));
        }

        private StoreEntry? FolderEntry(string name, CancellationToken ct)
        {
            long size = 0;
            var newest = DateTime.MinValue;
            bool any = false;
            foreach (var page in ListPages(Key(name) + "/", null, ct))
                foreach (var o in page.S3Objects ?? new List<S3Object>())
                {
                    if (StoreName.Problem(o.Key.Substring(Where.Prefix.Length)) is not null) continue; // not listed either
                    any = true;
                    size += o.Size ?? 0;
                    var t = Utc(o.LastModified);
                    if (t > newest) newest = t;
                }
            return any ? new StoreEntry(name, size, newest, true) : null;
        }

        public StoreEntry? Get(string name, CancellationToken cancellationToken) =>
            GetObject(name, cancellationToken) ?? FolderEntry(name.TrimEnd('/'), cancellationToken);

        /// <summary>The object <paramref name="name"/> (HEAD), or null; folders are not looked for.</summary>
        private StoreEntry? GetObject(string name, CancellationToken cancellationToken)
        {
            var request = new GetObjectMetadataRequest { BucketName = Where.Bucket, Key = Key(name) };
            try
            {
                var head = _s3.Call(c => _s3.Client.GetObjectMetadataAsync(request, c), "read", GetPath(name), write: false, cancellationToken);
                return new StoreEntry(name, head.ContentLength, Utc(head.LastModified), false);
            }
            catch (PgBackupException e) when (e.ErrorId == ErrorIds.PathNotFound)
            {
                return null;
            }
        }

        /// <summary>
        /// Whether the object <paramref name="name"/> exists, from a one-key listing: the object itself sorts first
        /// among the keys it is a prefix of. Unlike a HEAD, the answer for "no" is not an error response, which the
        /// SDK turns into exceptions; the listing's code is already loaded by the listing every backup starts with.
        /// </summary>
        bool IBlobStore.ObjectExists(string name, CancellationToken ct)
        {
            var key = Key(name);
            var request = new ListObjectsV2Request { BucketName = Where.Bucket, Prefix = key, MaxKeys = 1 };
            var page = _s3.Call(c => _s3.Client.ListObjectsV2Async(request, c), "read", GetPath(name), write: false, ct);
            var first = page.S3Objects is { Count: > 0 } objects ? objects[0].Key : null;
            return string.Equals(first, key, StringComparison.Ordinal);
        }

        private static DateTime Utc(DateTime? t) => t.HasValue ? t.Value.ToUniversalTime() : DateTime.MinValue;

        // ---- reading -------------------------------------------------------------------------------------------

        public Stream OpenRead(string name, CancellationToken cancellationToken) => new S3ReadStream(_s3, Where.Bucket, Key(name), GetPath(name), cancellationToken);

        // ---- writing -------------------------------------------------------------------------------------------

        public IStoreWriter OpenWrite(string name, CancellationToken cancellationToken) => BlobStores.OpenWrite(this, name, cancellationToken);

        public IDirectoryWriter OpenDirectoryWrite(string name, CancellationToken cancellationToken) => new BlobFolderWriter(this, name, cancellationToken);

        internal static void ApplyUploadSettings(StoreOptions options, PutObjectRequest request)
        {
            if (options.ServerSideEncryption != S3ServerSideEncryption.None)
                request.ServerSideEncryptionMethod = options.ServerSideEncryption == S3ServerSideEncryption.KMS ? ServerSideEncryptionMethod.AWSKMS : ServerSideEncryptionMethod.AES256;
            if (options.KmsKeyId is not null) request.ServerSideEncryptionKeyManagementServiceKeyId = options.KmsKeyId;
            if (options.StorageClass is not null) request.StorageClass = S3StorageClass.FindValue(options.StorageClass);
        }

        internal static void ApplyUploadSettings(StoreOptions options, InitiateMultipartUploadRequest request)
        {
            if (options.ServerSideEncryption != S3ServerSideEncryption.None)
                request.ServerSideEncryptionMethod = options.ServerSideEncryption == S3ServerSideEncryption.KMS ? ServerSideEncryptionMethod.AWSKMS : ServerSideEncryptionMethod.AES256;
            if (options.KmsKeyId is not null) request.ServerSideEncryptionKeyManagementServiceKeyId = options.KmsKeyId;
            if (options.StorageClass is not null) request.StorageClass = S3StorageClass.FindValue(options.StorageClass);
        }

        /// <summary>Puts the empty marker object that says "being written" (see the class summary).</summary>
        void IBlobStore.PutMarker(string name, CancellationToken ct)
        {
            var request = new PutObjectRequest { BucketName = Where.Bucket, Key = Key(BackupNaming.PartialName(name)), InputStream = new MemoryStream(Array.Empty<byte>()) };
            ApplyUploadSettings(Options, request);
            request.StorageClass = null; // tiny and short-lived: never an archive class with minimum storage durations
            _s3.Call(c => _s3.Client.PutObjectAsync(request, c), "write", GetPath(name), write: true, ct);
        }

        void IBlobStore.RemoveMarker(string name, CancellationToken ct)
        {
            var marker = BackupNaming.PartialName(name);
            var request = new DeleteObjectRequest { BucketName = Where.Bucket, Key = Key(marker) };
            _s3.Call(c => _s3.Client.DeleteObjectAsync(request, c), "remove", GetPath(marker), write: true, ct);
        }

        BlockUploadStream IBlobStore.Upload(string name, bool data, CancellationToken ct) =>
            new S3UploadStream(_s3, Where.Bucket, Key(name), GetPath(name), ct);

        string IBlobStore.StagingPrefix => "pgbackup-s3-";

        // ---- deleting ------------------------------------------------------------------------------------------

        /// <summary>Deletes the object <paramref name="name"/> and everything under <c>name/</c> (batches of 1,000).</summary>
        public void Delete(string name, CancellationToken cancellationToken)
        {
            name = name.TrimEnd('/');
            var single = new DeleteObjectRequest { BucketName = Where.Bucket, Key = Key(name) };
            _s3.Call(c => _s3.Client.DeleteObjectAsync(single, c), "delete", GetPath(name), write: true, cancellationToken);
            var keys = new List<string>();
            foreach (var page in ListPages(Key(name) + "/", null, cancellationToken))
                keys.AddRange((page.S3Objects ?? new List<S3Object>()).Select(o => o.Key));
            foreach (var batch in keys.Select((k, i) => (k, i)).GroupBy(x => x.i / 1000, x => x.k))
            {
                var request = new DeleteObjectsRequest { BucketName = Where.Bucket, Objects = batch.Select(k => new KeyVersion { Key = k }).ToList(), Quiet = true };
                var response = _s3.Call(c => _s3.Client.DeleteObjectsAsync(request, c), "delete", GetPath(name), write: true, cancellationToken);
                var errors = response.DeleteErrors ?? new List<DeleteError>();
                if (errors.Count > 0)
                    throw new PgBackupException(errors[0].Code == "AccessDenied" ? ErrorIds.S3AccessDenied : ErrorIds.RemoveFailed,
                        errors[0].Code == "AccessDenied" ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
                        $"Could not delete {errors.Count} object(s) under {GetPath(name)}/, for example {Where.Uri(errors[0].Key.Substring(Where.Prefix.Length))}: {errors[0].Code} {errors[0].Message}", GetPath(name));
            }
        }

        // ---- what crashes leave ----------------------------------------------------------------------------------

        /// <summary>
        /// Aborts multipart uploads under this prefix, of PgBackup's names, to which no part was added since
        /// <paramref name="cutoff"/> (uploads of killed processes: their parts cost storage until aborted). Returns
        /// their keys.
        /// </summary>
        public List<string> AbortStaleUploads(DateTime cutoff, CancellationToken ct)
        {
            var aborted = new List<string>();
            string? keyMarker = null, uploadIdMarker = null;
            var stale = new List<MultipartUpload>();
            while (true)
            {
                var request = new ListMultipartUploadsRequest { BucketName = Where.Bucket, Prefix = Where.Prefix, KeyMarker = keyMarker, UploadIdMarker = uploadIdMarker };
                var page = _s3.Call(c => _s3.Client.ListMultipartUploadsAsync(request, c), "list the unfinished uploads in", Location, write: false, ct);
                foreach (var u in page.MultipartUploads ?? new List<MultipartUpload>())
                {
                    var relative = u.Key.Substring(Where.Prefix.Length);
                    var top = relative.Split('/')[0];
                    if (BackupNaming.Parse(BackupNaming.StripAuxiliarySuffix(top)) is null) continue;
                    if (u.Initiated.HasValue && u.Initiated.Value.ToUniversalTime() > cutoff) continue;
                    stale.Add(u);
                }
                if (page.IsTruncated != true) break;
                keyMarker = page.NextKeyMarker;
                uploadIdMarker = page.NextUploadIdMarker;
            }
            foreach (var u in stale)
            {
                // Started long ago, but maybe still going (a backup of many hours): only when no part came lately.
                var parts = new ListPartsRequest { BucketName = Where.Bucket, Key = u.Key, UploadId = u.UploadId };
                ListPartsResponse listed;
                try { listed = _s3.Call(c => _s3.Client.ListPartsAsync(parts, c), "list the parts of", Where.Uri(u.Key.Substring(Where.Prefix.Length)), write: false, ct); }
                catch (PgBackupException e) when (e.ErrorId == ErrorIds.PathNotFound) { continue; }
                if ((listed.Parts ?? new List<PartDetail>()).Any(p => p.LastModified.HasValue && p.LastModified.Value.ToUniversalTime() > cutoff)) continue;
                var abort = new AbortMultipartUploadRequest { BucketName = Where.Bucket, Key = u.Key, UploadId = u.UploadId };
                try
                {
                    _s3.Call(c => _s3.Client.AbortMultipartUploadAsync(abort, c), "abort the upload of", Where.Uri(u.Key.Substring(Where.Prefix.Length)), write: true, ct);
                    aborted.Add(u.Key.Substring(Where.Prefix.Length));
                }
                catch (PgBackupException e) when (e.ErrorId == ErrorIds.PathNotFound) { }
            }
            return aborted;
        }
    }
}
