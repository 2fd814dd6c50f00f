using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;

namespace PgBackup
{
    /// <summary>
    /// A write-only stream that stores what is written as one S3 object, without a local copy: it fills one part in
    /// memory, uploads it (with its Content-MD5) while the next part fills, at most <c>UploadConcurrency</c> parts at a
    /// time, so memory stays at about part size × (concurrency + 1). An object smaller than one part is stored with a
    /// single PutObject. Nothing exists under the key before <see cref="Complete"/>; <see cref="Abort"/> aborts the
    /// multipart upload, so that no orphan parts are left (and billed).
    /// </summary>
    internal sealed class S3UploadStream : Stream
    {
        /// <summary>S3 allows 10,000 parts; from this part on, each part is twice as large (about 300 GiB at the default 5 MiB parts).</summary>
        internal const int PartsPerSize = 2000;
        internal const int MaxParts = 10000;

        private readonly S3Connection _s3;
        private readonly string _bucket;
        private readonly string _key;
        private readonly string _target;
        private readonly CancellationTokenSource _stop;
        private readonly SemaphoreSlim _slots;
        private readonly ConcurrentBag<byte[]> _spare = new ConcurrentBag<byte[]>();
        private readonly List<Task> _inFlight = new List<Task>();
        private readonly List<PartETag> _etags = new List<PartETag>();
        private byte[] _current;
        private int _filled;
        private int _partNumber;
        private string? _uploadId;
        private Exception? _failure;
        private bool _completed, _aborted;

        public S3UploadStream(S3Connection s3, string bucket, string key, string target, CancellationToken ct)
        {
            _s3 = s3;
            _bucket = bucket;
            _key = key;
            _target = target;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _slots = new SemaphoreSlim(s3.Options.UploadConcurrency, s3.Options.UploadConcurrency);
            // Small at first: a manifest (a few KB) never needs a part buffer; data outgrows it on its first writes.
            _current = new byte[Math.Min(FirstBufferSize, PartSize(1))];
        }

        /// <summary>The buffer an upload starts with, before it is known to need a whole part.</summary>
        internal const int FirstBufferSize = 64 << 10;

        /// <summary>Bytes accepted so far.</summary>
        public long Length64 { get; private set; }

        private int PartSize(int partNumber) => PartSizeOf(partNumber, _s3.Options.PartSizeBytes, _s3.Options.UniformParts);

        /// <summary>
        /// The size of part <paramref name="partNumber"/>: the base size, doubled every <see cref="PartsPerSize"/> parts
        /// (at most 1 GiB), or always the base size for services that need uniform parts.
        /// </summary>
        internal static int PartSizeOf(int partNumber, int baseSize, bool uniform)
        {
            if (uniform) return baseSize;
            long size = (long)baseSize << Math.Min(8, (partNumber - 1) / PartsPerSize);
            return (int)Math.Min(size, 1L << 30);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            ThrowIfFailed();
            if (_completed || _aborted) throw new ObjectDisposedException(nameof(S3UploadStream));
            while (count > 0)
            {
                if (_filled == _current.Length)
                {
                    // The first buffer is full: the object needs whole parts.
                    var whole = Rent(PartSize(_partNumber + 1));
                    Buffer.BlockCopy(_current, 0, whole, 0, _filled);
                    _current = whole;
                }
                int n = Math.Min(count, _current.Length - _filled);
                Buffer.BlockCopy(buffer, offset, _current, _filled, n);
                _filled += n;
                offset += n;
                count -= n;
                Length64 += n;
                if (_filled == _current.Length && _filled == PartSize(_partNumber + 1)) StartPart(last: false);
            }
        }

        private void StartPart(bool last)
        {
            var ct = _stop.Token;
            if (_uploadId is null)
            {
                var request = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = _key };
                S3Store.ApplyUploadSettings(_s3.Options, request);
                _uploadId = _s3.Call(c => _s3.Client.InitiateMultipartUploadAsync(request, c), "start uploading", _target, write: true, ct).UploadId;
            }
            // Back-pressure: wait while as many parts as allowed are in flight.
            try { _slots.Wait(ct); }
            catch (OperationCanceledException) { ThrowIfFailed(); throw; }
            ThrowIfFailed();
            if (_partNumber >= MaxParts)
                throw new PgBackupException(ErrorIds.S3UploadFailed, ErrorKind.WriteError,
                    $"Uploading {_target} needs more than S3's {MaxParts:N0} parts of {_current.Length >> 20} MiB: give a larger -S3PartSizeMB.", _target);
            int number = ++_partNumber;
            var data = _current;
            int length = _filled;
            _current = last ? Array.Empty<byte>() : Rent(PartSize(number + 1));
            _filled = 0;
            var uploadId = _uploadId;
            var task = Task.Run(async () =>
            {
                try
                {
                    string md5;
                    using (var hash = MD5.Create()) md5 = Convert.ToBase64String(hash.ComputeHash(data, 0, length));
                    var request = new UploadPartRequest
                    {
                        BucketName = _bucket,
                        Key = _key,
                        UploadId = uploadId,
                        PartNumber = number,
                        PartSize = length,
                        InputStream = new MemoryStream(data, 0, length, writable: false),
                        MD5Digest = md5,
                        IsLastPart = last,
                        // The part is in memory: its SHA-256 is signed in one pass, not as aws-chunked frames signed
                        // one by one, which some S3-compatible services (R2 among them, by users' reports) refuse.
                        // Measured: no change in time or memory (bench, 4 rounds A/B).
                        UseChunkEncoding = false,
                    };
                    var response = await _s3.Client.UploadPartAsync(request, ct).ConfigureAwait(false);
                    lock (_etags) _etags.Add(new PartETag(number, response.ETag));
                }
                catch (Exception e)
                {
                    // A part cancelled because the upload stops (Ctrl+C, or another part failed) is not the cause.
                    if (!(e is OperationCanceledException && ct.IsCancellationRequested))
                        Interlocked.CompareExchange(ref _failure, _s3.Map(e, $"upload part {number} of", _target, write: true), null);
                    _stop.Cancel();
                }
                finally
                {
                    if (data.Length > 0) _spare.Add(data);
                    _slots.Release();
                }
            });
            lock (_inFlight)
            {
                _inFlight.RemoveAll(t => t.IsCompleted);
                _inFlight.Add(task);
            }
        }

        private byte[] Rent(int size)
        {
            // Buffers of an outgrown part size are dropped.
            while (_spare.TryTake(out var b))
                if (b.Length == size) return b;
            return new byte[size];
        }

        private void ThrowIfFailed()
        {
            var f = Volatile.Read(ref _failure);
            if (f is not null) throw f is PgBackupException ? f : new PgBackupException(ErrorIds.S3UploadFailed, ErrorKind.WriteError, $"Uploading {_target} failed: {f.Message}", _target, f);
        }

        private void WaitForParts()
        {
            Task[] pending;
            lock (_inFlight) pending = _inFlight.ToArray();
            try { Task.WaitAll(pending); } catch (AggregateException) { }
        }

        /// <summary>Stores the object: the last part and CompleteMultipartUpload, or one PutObject when it is small.</summary>
        public void Complete()
        {
            ThrowIfFailed();
            if (_completed) return;
            var ct = _stop.Token;
            if (_uploadId is null)
            {
                var data = _current;
                int length = _filled;
                string md5;
                using (var hash = MD5.Create()) md5 = Convert.ToBase64String(hash.ComputeHash(data, 0, length));
                var request = new PutObjectRequest
                {
                    BucketName = _bucket,
                    Key = _key,
                    InputStream = new MemoryStream(data, 0, length, writable: false),
                    // The gateway answers BadDigest to Content-MD5 on an empty body.
                    MD5Digest = length > 0 ? md5 : null,
                    UseChunkEncoding = false,
                };
                S3Store.ApplyUploadSettings(_s3.Options, request);
                _s3.Call(c => _s3.Client.PutObjectAsync(request, c), "upload", _target, write: true, ct);
            }
            else
            {
                if (_filled > 0) StartPart(last: true);
                WaitForParts();
                ThrowIfFailed();
                List<PartETag> parts;
                lock (_etags) parts = _etags.OrderBy(p => p.PartNumber).ToList();
                var request = new CompleteMultipartUploadRequest { BucketName = _bucket, Key = _key, UploadId = _uploadId, PartETags = parts };
                _s3.Call(c => _s3.Client.CompleteMultipartUploadAsync(request, c), "complete the upload of", _target, write: true, ct);
            }
            _completed = true;
            _current = Array.Empty<byte>();
            while (_spare.TryTake(out _)) { }
        }

        /// <summary>Stops the upload: in-flight parts are cancelled and the multipart upload is aborted (parts deleted).</summary>
        public void Abort()
        {
            if (_completed || _aborted) return;
            _aborted = true;
            _stop.Cancel();
            WaitForParts();
            _current = Array.Empty<byte>();
            while (_spare.TryTake(out _)) { }
            if (_uploadId is null) return;
            var request = new AbortMultipartUploadRequest { BucketName = _bucket, Key = _key, UploadId = _uploadId };
            // A fresh token: the upload's own is cancelled by now. A few tries: an orphan upload keeps costing money.
            for (int attempt = 1; attempt <= 3; attempt++)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    _s3.Call(c => _s3.Client.AbortMultipartUploadAsync(request, c), "abort the upload of", _target, write: true, timeout.Token);
                    return;
                }
                catch (PgBackupException e) when (e.ErrorId == ErrorIds.PathNotFound) { return; }
                catch (Exception) when (attempt < 3) { Thread.Sleep(200 * attempt); }
                catch (Exception) { return; /* left for the stale-upload sweep (SweepStalePartials) */ }
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                if (!_completed) Abort();
                _stop.Dispose();
            }
            base.Dispose(disposing);
        }

        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Length64;
        public override long Position { get => Length64; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
