using System;
using System.IO;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// What <see cref="BlobObjectWriter"/> and <see cref="BlobFolderWriter"/> need of a store that cannot rename (S3,
    /// Azure): the data is written under its final name, and an empty marker <c>&lt;name&gt;.partial</c> beside it says
    /// "being written" until the manifest is there.
    /// </summary>
    internal interface IBlobStore : IBackupStore
    {
        /// <summary>Whether the object (not a folder) <paramref name="name"/> exists.</summary>
        bool ObjectExists(string name, CancellationToken ct);
        /// <summary>Puts the empty marker of <paramref name="name"/>.</summary>
        void PutMarker(string name, CancellationToken ct);
        /// <summary>Removes the marker of <paramref name="name"/>.</summary>
        void RemoveMarker(string name, CancellationToken ct);
        /// <summary>An upload of the object <paramref name="name"/>; <paramref name="data"/>: backup data, not a manifest or signature.</summary>
        BlockUploadStream Upload(string name, bool data, CancellationToken ct);
        /// <summary>The start of the names of local staging folders for Directory backups.</summary>
        string StagingPrefix { get; }
    }

    internal static class BlobStores
    {
        /// <summary>Deletes, or leaves it to the sweep (<see cref="BackupCatalog.SweepStalePartials"/>) when that fails.</summary>
        public static void TryDelete(IBlobStore store, string name)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                store.Delete(name, timeout.Token);
            }
            catch (Exception e) when (e is PgBackupException || e is OperationCanceledException) { /* the sweep removes it later */ }
        }

        public static PgBackupException Exists(IBlobStore store, string name) =>
            new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists, $"{store.GetPath(name)} already exists; it was not replaced.", store.GetPath(name));

        /// <summary>A writer of one object; data (not manifests and signatures) gets a marker while it is written.</summary>
        public static IStoreWriter OpenWrite(IBlobStore store, string name, CancellationToken ct)
        {
            bool auxiliary = name.EndsWith(BackupNaming.ManifestSuffix, StringComparison.Ordinal) || name.EndsWith(BackupNaming.SignatureSuffix, StringComparison.Ordinal);
            return new BlobObjectWriter(store, name, withMarker: !auxiliary, ct);
        }
    }

    /// <summary>One object: marker, upload, then (after the manifest) the marker removed; an abort leaves neither.</summary>
    internal sealed class BlobObjectWriter : IStoreWriter
    {
        private readonly IBlobStore _store;
        private readonly string _name;
        private readonly bool _withMarker;
        private readonly BlockUploadStream _upload;
        private bool _finished, _committed, _aborted;

        public BlobObjectWriter(IBlobStore store, string name, bool withMarker, CancellationToken ct)
        {
            _store = store;
            _name = name;
            _withMarker = withMarker;
            if (store.ObjectExists(name, ct)) throw BlobStores.Exists(store, name);
            try
            {
                if (withMarker) store.PutMarker(name, ct);
                _upload = store.Upload(name, data: withMarker, ct);
            }
            catch
            {
                // Stopped or failed while the marker was being written (the service may have stored it before the
                // answer came back) or just after: there is no writer to abort, so the constructor takes its
                // marker away itself.
                if (withMarker) BlobStores.TryDelete(store, BackupNaming.PartialName(name));
                throw;
            }
        }

        public Stream Stream => _upload;
        public long BytesWritten => _upload.Length64;

        public void Finish(CancellationToken cancellationToken)
        {
            if (_finished) return;
            _upload.Complete();
            _finished = true;
        }

        public void Commit(CancellationToken cancellationToken)
        {
            if (!_finished) Finish(cancellationToken);
            if (_withMarker) _store.RemoveMarker(_name, cancellationToken);
            _committed = true;
        }

        public void Abort()
        {
            if (_committed || _aborted) return;
            _aborted = true;
            _upload.Abort();
            if (_finished) BlobStores.TryDelete(_store, _name);
            if (_withMarker) BlobStores.TryDelete(_store, BackupNaming.PartialName(_name));
        }

        public void Dispose()
        {
            if (!_committed) Abort();
            _upload.Dispose();
        }
    }

    /// <summary>
    /// A Directory-format backup: pg_dump writes its files into a local staging folder (pg_dump needs a file system
    /// for this format), which is uploaded file by file under <c>&lt;name&gt;/</c> and then removed.
    /// </summary>
    internal sealed class BlobFolderWriter : IDirectoryWriter
    {
        private readonly IBlobStore _store;
        private readonly string _name;
        private readonly string _staging;
        private bool _uploaded, _committed, _aborted;

        public BlobFolderWriter(IBlobStore store, string name, CancellationToken ct)
        {
            _store = store;
            _name = name;
            if (store.Get(name, ct) is not null) throw BlobStores.Exists(store, name);
            _staging = Path.Combine(Path.GetTempPath(), store.StagingPrefix + Guid.NewGuid().ToString("n").Substring(0, 12));
            Directory.CreateDirectory(_staging);
            LocalPath = Path.Combine(_staging, name);
            try { store.PutMarker(name, ct); }
            catch { RemoveStaging(); throw; }
        }

        public string LocalPath { get; }

        public void Finish(CancellationToken cancellationToken)
        {
            if (_uploaded) return;
            if (!Directory.Exists(LocalPath))
                throw new PgBackupException(ErrorIds.BackupWriteFailed, ErrorKind.WriteError, $"{LocalPath} was not written.", LocalPath);
            foreach (var file in Directory.GetFiles(LocalPath, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var relative = file.Substring(LocalPath.Length + 1).Replace('\\', '/');
                using var upload = _store.Upload(_name + "/" + relative, data: true, cancellationToken);
                using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
                    input.CopyTo(upload, 1 << 20);
                upload.Complete();
            }
            _uploaded = true;
        }

        public void Commit(CancellationToken cancellationToken)
        {
            if (!_uploaded) Finish(cancellationToken);
            _store.RemoveMarker(_name, cancellationToken);
            _committed = true;
            RemoveStaging();
        }

        public void Abort()
        {
            if (_committed || _aborted) return;
            _aborted = true;
            RemoveStaging();
            BlobStores.TryDelete(_store, _name);
            BlobStores.TryDelete(_store, BackupNaming.PartialName(_name));
        }

        private void RemoveStaging()
        {
            try { if (Directory.Exists(_staging)) Directory.Delete(_staging, recursive: true); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
        }

        public void Dispose()
        {
            if (!_committed) Abort();
            RemoveStaging();
        }
    }
}
