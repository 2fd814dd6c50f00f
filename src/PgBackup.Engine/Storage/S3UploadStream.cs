using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3.Model;

namespace PgBackup
{
    /// <summary>
    /// An S3 object written as a multipart upload (<see cref="BlockUploadStream"/>), each part with its Content-MD5; an
    /// object smaller than one part is stored with a single PutObject. <see cref="BlockUploadStream.Abort"/> aborts the
    /// multipart upload, so that no orphan parts are left (and billed).
    /// </summary>
    internal sealed class S3UploadStream : BlockUploadStream
    {
        /// <summary>S3 allows 10,000 parts.</summary>
        internal const int MaxParts = 10000;

        private readonly S3Connection _s3;
        private readonly string _bucket;
        private readonly string _key;
        private string? _uploadId;

        public S3UploadStream(S3Connection s3, string bucket, string key, string target, CancellationToken ct)
            : base(s3, target, "part", s3.Options.UniformParts, ct)
        {
            _s3 = s3;
            _bucket = bucket;
            _key = key;
        }

        protected override int MaxBlocks => MaxParts;

        protected override PgBackupException TooManyBlocks(int blockBytes) =>
            new PgBackupException(ErrorIds.S3UploadFailed, ErrorKind.WriteError,
                $"Uploading {Target} needs more than S3's {MaxParts:N0} parts of {blockBytes >> 20} MiB: give a larger -S3PartSizeMB.", Target);

        protected override void Begin(CancellationToken ct)
        {
            var request = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = _key };
            S3Store.ApplyUploadSettings(_s3.Options, request);
            _uploadId = _s3.Call(c => _s3.Client.InitiateMultipartUploadAsync(request, c), "start uploading", Target, write: true, ct).UploadId;
        }

        private static string Md5(byte[] data, int length)
        {
            using var hash = MD5.Create();
            return Convert.ToBase64String(hash.ComputeHash(data, 0, length));
        }

        protected override async Task<string> StageAsync(int number, byte[] data, int length, bool last, CancellationToken ct)
        {
            var request = new UploadPartRequest
            {
                BucketName = _bucket,
                Key = _key,
                UploadId = _uploadId,
                PartNumber = number,
                PartSize = length,
                InputStream = new MemoryStream(data, 0, length, writable: false),
                MD5Digest = Md5(data, length),
                IsLastPart = last,
                // The part is in memory: its SHA-256 is signed in one pass, not as aws-chunked frames signed
                // one by one, which some S3-compatible services (R2 among them, by users' reports) refuse.
                // Measured: no change in time or memory (bench, 4 rounds A/B).
                UseChunkEncoding = false,
            };
            var response = await _s3.Client.UploadPartAsync(request, ct).ConfigureAwait(false);
            return response.ETag;
        }

        protected override void PutWhole(byte[] data, int length, CancellationToken ct)
        {
            var request = new PutObjectRequest
            {
                BucketName = _bucket,
                Key = _key,
                InputStream = new MemoryStream(data, 0, length, writable: false),
                // The gateway answers BadDigest to Content-MD5 on an empty body.
                MD5Digest = length > 0 ? Md5(data, length) : null,
                UseChunkEncoding = false,
            };
            S3Store.ApplyUploadSettings(_s3.Options, request);
            _s3.Call(c => _s3.Client.PutObjectAsync(request, c), "upload", Target, write: true, ct);
        }

        protected override void CommitBlocks(IList<string> staged, CancellationToken ct)
        {
            var parts = staged.Select((etag, i) => new PartETag(i + 1, etag)).ToList();
            var request = new CompleteMultipartUploadRequest { BucketName = _bucket, Key = _key, UploadId = _uploadId, PartETags = parts };
            _s3.Call(c => _s3.Client.CompleteMultipartUploadAsync(request, c), "complete the upload of", Target, write: true, ct);
        }

        /// <summary>Aborts the multipart upload (its parts are deleted).</summary>
        protected override void AbortStarted()
        {
            if (_uploadId is null) return;
            var request = new AbortMultipartUploadRequest { BucketName = _bucket, Key = _key, UploadId = _uploadId };
            // A fresh token: the upload's own is cancelled by now. A few tries: an orphan upload keeps costing money.
            for (int attempt = 1; attempt <= 3; attempt++)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    _s3.Call(c => _s3.Client.AbortMultipartUploadAsync(request, c), "abort the upload of", Target, write: true, timeout.Token);
                    return;
                }
                catch (PgBackupException e) when (e.ErrorId == ErrorIds.PathNotFound) { return; }
                catch (Exception) when (attempt < 3) { Thread.Sleep(200 * attempt); }
                catch (Exception) { return; /* left for the stale-upload sweep (SweepStalePartials) */ }
            }
        }
    }
}
