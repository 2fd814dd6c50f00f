using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace PgBackup
{
    /// <summary>
    /// A write-only stream that stores what is written as one block blob, without a local copy: it fills one block in
    /// memory and stages it (with its Content-MD5) while the next one fills, at most <c>UploadConcurrency</c> blocks at
    /// a time, so memory stays at about block size × (concurrency + 1), as for S3 (<see cref="S3UploadStream"/>).
    /// Staged blocks are invisible: the blob exists only after <see cref="Complete"/> commits the block list (a blob
    /// smaller than one block is stored with a single Put Blob). The commit never replaces a blob (If-None-Match: *).
    /// Blocks staged by an upload that never commits are discarded by the service (after a week); nothing lists them.
    /// </summary>
    internal sealed class AzureUploadStream : Stream
    {
        /// <summary>Azure allows 50,000 committed blocks a blob.</summary>
        internal const int MaxBlocks = 50000;

        private readonly AzureConnection _azure;
        private readonly BlockBlobClient _blob;
        private readonly string _target;
        private readonly AccessTier? _tier;
        private readonly string _tag = Guid.NewGuid().ToString("n").Substring(0, 8);
        private readonly CancellationTokenSource _stop;
        private readonly SemaphoreSlim _slots;
        private readonly ConcurrentBag<byte[]> _spare = new ConcurrentBag<byte[]>();
        private readonly List<Task> _inFlight = new List<Task>();
        private readonly List<string> _blockIds = new List<string>();
        private byte[] _current;
        private int _filled;
        private int _blockNumber;
        private Exception? _failure;
        private bool _completed, _aborted;

        public AzureUploadStream(AzureConnection azure, string blobName, string target, bool withTier, CancellationToken ct)
        {
            _azure = azure;
            _blob = azure.Container.GetBlockBlobClient(blobName);
            _target = target;
            _tier = withTier ? Tier(azure.Options.AccessTier) : null;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _slots = new SemaphoreSlim(azure.Options.UploadConcurrency, azure.Options.UploadConcurrency);
            // Small at first: a manifest (a few KB) never needs a block buffer; data outgrows it on its first writes.
            _current = new byte[Math.Min(S3UploadStream.FirstBufferSize, BlockSize(1))];
        }

        internal static AccessTier? Tier(AzureAccessTier tier)
        {
            switch (tier)
            {
                case AzureAccessTier.Hot: return AccessTier.Hot;
                case AzureAccessTier.Cool: return AccessTier.Cool;
                case AzureAccessTier.Cold: return AccessTier.Cold;
                default: return null; // the account's default (Archive never gets here: StoreOptions.Validate refuses it)
            }
        }

        /// <summary>Bytes accepted so far.</summary>
        public long Length64 { get; private set; }

        /// <summary>The size of block <paramref name="number"/>: the part size, doubled every 2,000 blocks (at most 1 GiB).</summary>
        private int BlockSize(int number) => S3UploadStream.PartSizeOf(number, _azure.Options.PartSizeBytes, uniform: false);

        /// <summary>Block ids: base64 of the same length for every block of a blob, unique to this upload.</summary>
        private string BlockId(int number) => Convert.ToBase64String(Encoding.ASCII.GetBytes(_tag + number.ToString("d6", System.Globalization.CultureInfo.InvariantCulture)));

        public override void Write(byte[] buffer, int offset, int count)
        {
            ThrowIfFailed();
            if (_completed || _aborted) throw new ObjectDisposedException(nameof(AzureUploadStream));
            while (count > 0)
            {
                if (_filled == _current.Length)
                {
                    var whole = Rent(BlockSize(_blockNumber + 1));
                    Buffer.BlockCopy(_current, 0, whole, 0, _filled);
                    _current = whole;
                }
                int n = Math.Min(count, _current.Length - _filled);
                Buffer.BlockCopy(buffer, offset, _current, _filled, n);
                _filled += n;
                offset += n;
                count -= n;
                Length64 += n;
                if (_filled == _current.Length && _filled == BlockSize(_blockNumber + 1)) StartBlock(last: false);
            }
        }

        private void StartBlock(bool last)
        {
            var ct = _stop.Token;
            // Back-pressure: wait while as many blocks as allowed are in flight.
            try { _slots.Wait(ct); }
            catch (OperationCanceledException) { ThrowIfFailed(); throw; }
            ThrowIfFailed();
            if (_blockNumber >= MaxBlocks)
                throw new PgBackupException(ErrorIds.AzureUploadFailed, ErrorKind.WriteError,
                    $"Uploading {_target} needs more than Azure's {MaxBlocks:N0} blocks: give a larger -S3PartSizeMB (the block size).", _target);
            int number = ++_blockNumber;
            var id = BlockId(number);
            lock (_blockIds) _blockIds.Add(id);
            var data = _current;
            int length = _filled;
            _current = last ? Array.Empty<byte>() : Rent(BlockSize(number + 1));
            _filled = 0;
            var task = Task.Run(async () =>
            {
                try
                {
                    byte[] md5;
                    using (var hash = MD5.Create()) md5 = hash.ComputeHash(data, 0, length);
                    using var content = new MemoryStream(data, 0, length, writable: false);
                    await _blob.StageBlockAsync(id, content, new BlockBlobStageBlockOptions { TransferValidation = new Azure.Storage.UploadTransferValidationOptions { PrecalculatedChecksum = md5, ChecksumAlgorithm = Azure.Storage.StorageChecksumAlgorithm.MD5 } }, ct).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    // A block cancelled because the upload stops (Ctrl+C, or another block failed) is not the cause.
                    if (!(e is OperationCanceledException && ct.IsCancellationRequested))
                        Interlocked.CompareExchange(ref _failure, _azure.Map(e, $"upload block {number} of", _target, write: true), null);
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
            while (_spare.TryTake(out var b))
                if (b.Length == size) return b;
            return new byte[size];
        }

        private void ThrowIfFailed()
        {
            var f = Volatile.Read(ref _failure);
            if (f is not null) throw f is PgBackupException ? f : new PgBackupException(ErrorIds.AzureUploadFailed, ErrorKind.WriteError, $"Uploading {_target} failed: {f.Message}", _target, f);
        }

        private void WaitForBlocks()
        {
            Task[] pending;
            lock (_inFlight) pending = _inFlight.ToArray();
            try { Task.WaitAll(pending); } catch (AggregateException) { }
        }

        /// <summary>Stores the blob: the last block and the block list, or one Put Blob when it is small.</summary>
        public void Complete()
        {
            ThrowIfFailed();
            if (_completed) return;
            var ct = _stop.Token;
            var neverReplace = new BlobRequestConditions { IfNoneMatch = ETag.All };
            if (_blockNumber == 0)
            {
                var options = new BlobUploadOptions
                {
                    Conditions = neverReplace,
                    AccessTier = _tier,
                    // One request (the data is smaller than one block), with the Content-MD5 the SDK computes.
                    TransferOptions = new Azure.Storage.StorageTransferOptions { InitialTransferSize = Math.Max(1, _filled), MaximumConcurrency = 1 },
                    TransferValidation = new Azure.Storage.UploadTransferValidationOptions { ChecksumAlgorithm = Azure.Storage.StorageChecksumAlgorithm.MD5 },
                };
                var data = _current;
                int length = _filled;
                _azure.Call(c => _blob.UploadAsync(new MemoryStream(data, 0, length, writable: false), options, c), "upload", _target, write: true, ct);
            }
            else
            {
                if (_filled > 0) StartBlock(last: true);
                WaitForBlocks();
                ThrowIfFailed();
                List<string> ids;
                lock (_blockIds) ids = _blockIds.ToList();
                var options = new CommitBlockListOptions { Conditions = neverReplace, AccessTier = _tier };
                _azure.Call(c => _blob.CommitBlockListAsync(ids, options, c), "complete the upload of", _target, write: true, ct);
            }
            _completed = true;
            _current = Array.Empty<byte>();
            while (_spare.TryTake(out _)) { }
        }

        /// <summary>Stops the upload: blocks in flight are cancelled; staged blocks are never committed (the service discards them).</summary>
        public void Abort()
        {
            if (_completed || _aborted) return;
            _aborted = true;
            _stop.Cancel();
            WaitForBlocks();
            _current = Array.Empty<byte>();
            while (_spare.TryTake(out _)) { }
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
