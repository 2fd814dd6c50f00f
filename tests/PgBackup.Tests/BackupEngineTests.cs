using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>What a backup leaves running when it fails: nothing.</summary>
    public sealed class BackupEngineTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("pgbackup-engine-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        [Fact]
        public void AFailedConnectionStopsTheStoresListingAndSweepBeforeTheBackupReturns()
        {
            // A stale partial that the sweep would remove, in a store whose listing waits until it is stopped or let go.
            var stale = Path.Combine(_dir, "backup_app_20200101_030000.sql.gz.partial");
            File.WriteAllText(stale, "left by a crash");
            File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-3));
            using var release = new ManualResetEventSlim();
            using var store = new HeldListingStore(new LocalStore(_dir, create: false), release.WaitHandle);
            var request = new BackupRequest { Connection = PgConnectionInfo.Parse($"postgresql://app:secret@127.0.0.1:{TestPorts.Closed()}/app"), Store = store };

            var e = Assert.Throws<PgBackupException>(() => new BackupEngine().Run(request, NullLog.Instance, CancellationToken.None));
            Assert.Equal(ErrorKind.ConnectionError, e.Kind);
            // The listing (if it had started) was stopped and has ended; let go now, it sweeps nothing.
            Assert.False(store.Listing, "the store's listing still runs after the backup failed");
            release.Set();
            Thread.Sleep(500);
            Assert.True(File.Exists(stale), "the sweep removed a partial after the backup had failed");
            Assert.False(store.Listing);
        }

        /// <summary>A local store whose listings wait until they are cancelled (then throw) or let go.</summary>
        private sealed class HeldListingStore : IBackupStore
        {
            private readonly LocalStore _inner;
            private readonly WaitHandle _release;
            private int _listing;

            public HeldListingStore(LocalStore inner, WaitHandle release) { _inner = inner; _release = release; }

            public bool Listing => Volatile.Read(ref _listing) > 0;

            public IReadOnlyList<StoreEntry> List(string? under, CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref _listing);
                try
                {
                    WaitHandle.WaitAny(new[] { cancellationToken.WaitHandle, _release });
                    cancellationToken.ThrowIfCancellationRequested();
                    return _inner.List(under, cancellationToken);
                }
                finally { Interlocked.Decrement(ref _listing); }
            }

            public string Location => _inner.Location;
            public string GetPath(string name) => _inner.GetPath(name);
            public string? GetLocalPath(string name) => _inner.GetLocalPath(name);
            public StoreEntry? Get(string name, CancellationToken cancellationToken) => _inner.Get(name, cancellationToken);
            public Stream OpenRead(string name, CancellationToken cancellationToken) => _inner.OpenRead(name, cancellationToken);
            public IStoreWriter OpenWrite(string name, CancellationToken cancellationToken) => _inner.OpenWrite(name, cancellationToken);
            public IDirectoryWriter OpenDirectoryWrite(string name, CancellationToken cancellationToken) => _inner.OpenDirectoryWrite(name, cancellationToken);
            public void Delete(string name, CancellationToken cancellationToken) => _inner.Delete(name, cancellationToken);
            public void Dispose() => _inner.Dispose();
        }
    }
}
