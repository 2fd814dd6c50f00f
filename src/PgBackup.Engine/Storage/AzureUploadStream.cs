using System;
using System.Collections.Generic;
using System.IO;
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
    /// A block blob written as staged blocks (<see cref="BlockUploadStream"/>), each with its Content-MD5. Staged blocks
    /// are invisible: the blob exists only after <see cref="BlockUploadStream.Complete"/> commits the block list (a blob
    /// smaller than one block is stored with a single Put Blob). The commit never replaces a blob (If-None-Match: *).
    /// Blocks staged by an upload that never commits are discarded by the service (after a week); nothing lists them.
    /// </summary>
    internal sealed class AzureUploadStream : BlockUploadStream
    {
        /// <summary>Azure allows 50,000 committed blocks a blob.</summary>
        internal const int MaxBlockCount = 50000;

        private readonly AzureConnection _azure;
        private readonly BlockBlobClient _blob;
        private readonly AccessTier? _tier;
        private readonly string _tag = Guid.NewGuid().ToString("n").Substring(0, 8);

        public AzureUploadStream(AzureConnection azure, string blobName, string target, bool withTier, CancellationToken ct)
            : base(azure, target, "block", uniform: false, ct)
        {
            _azure = azure;
            _blob = azure.Container.GetBlockBlobClient(blobName);
            _tier = withTier ? Tier(azure.Options.AccessTier) : null;
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

        protected override int MaxBlocks => MaxBlockCount;

        protected override PgBackupException TooManyBlocks(int blockBytes) =>
            new PgBackupException(ErrorIds.AzureUploadFailed, ErrorKind.WriteError,
                $"Uploading {Target} needs more than Azure's {MaxBlockCount:N0} blocks: give a larger -S3PartSizeMB (the block size).", Target);

        /// <summary>Block ids: base64 of the same length for every block of a blob, unique to this upload.</summary>
        private string BlockId(int number) => Convert.ToBase64String(Encoding.ASCII.GetBytes(_tag + number.ToString("d6", System.Globalization.CultureInfo.InvariantCulture)));

        protected override async Task<string> StageAsync(int number, byte[] data, int length, bool last, CancellationToken ct)
        {
            var id = BlockId(number);
            byte[] md5;
            using (var hash = MD5.Create()) md5 = hash.ComputeHash(data, 0, length);
            using var content = new MemoryStream(data, 0, length, writable: false);
            await _blob.StageBlockAsync(id, content, new BlockBlobStageBlockOptions { TransferValidation = new Azure.Storage.UploadTransferValidationOptions { PrecalculatedChecksum = md5, ChecksumAlgorithm = Azure.Storage.StorageChecksumAlgorithm.MD5 } }, ct).ConfigureAwait(false);
            return id;
        }

        private readonly BlobRequestConditions NeverReplace = new BlobRequestConditions { IfNoneMatch = ETag.All };

        protected override void PutWhole(byte[] data, int length, CancellationToken ct)
        {
            var options = new BlobUploadOptions
            {
                Conditions = NeverReplace,
                AccessTier = _tier,
                // One request (the data is smaller than one block), with the Content-MD5 the SDK computes.
                TransferOptions = new Azure.Storage.StorageTransferOptions { InitialTransferSize = Math.Max(1, length), MaximumConcurrency = 1 },
                TransferValidation = new Azure.Storage.UploadTransferValidationOptions { ChecksumAlgorithm = Azure.Storage.StorageChecksumAlgorithm.MD5 },
            };
            _azure.Call(c => _blob.UploadAsync(new MemoryStream(data, 0, length, writable: false), options, c), "upload", Target, write: true, ct);
        }

        protected override void CommitBlocks(IList<string> staged, CancellationToken ct)
        {
            var options = new CommitBlockListOptions { Conditions = NeverReplace, AccessTier = _tier };
            _azure.Call(c => _blob.CommitBlockListAsync(staged, options, c), "complete the upload of", Target, write: true, ct);
        }

        // Abort: staged blocks are never committed (the service discards them); nothing to do after the base's.
    }
}
