using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace PgBackup
{
    /// <summary>An entry in a store: a file (object) or a folder (common prefix).</summary>
    public sealed class StoreEntry
    {
        public StoreEntry(string name, long sizeBytes, DateTime lastModifiedUtc, bool isDirectory)
        {
            Name = name;
            SizeBytes = sizeBytes;
            LastModifiedUtc = lastModifiedUtc;
            IsDirectory = isDirectory;
        }

        /// <summary>The name relative to the store's location, with '/' between folder levels.</summary>
        public string Name { get; }
        public long SizeBytes { get; }
        public DateTime LastModifiedUtc { get; }
        public bool IsDirectory { get; }
        public override string ToString() => Name;
    }

    /// <summary>
    /// A place where backups live: a local folder or an S3 prefix. Listing, retention, restore and drills are
    /// written once against this interface.
    /// </summary>
    public interface IBackupStore : IDisposable
    {
        /// <summary>The location as the user writes it: a full folder path or <c>s3://bucket/prefix/</c>.</summary>
        string Location { get; }

        /// <summary>The full path or URI of an entry, as shown to users and bound to <c>-Path</c>.</summary>
        string GetPath(string name);

        /// <summary>The local file-system path of an entry, or null when the store is not local.</summary>
        string? GetLocalPath(string name);

        /// <summary>Entries directly under the location, or under the folder <paramref name="under"/> of it.</summary>
        IReadOnlyList<StoreEntry> List(string? under, CancellationToken cancellationToken);

        /// <summary>The entry, or null when it does not exist.</summary>
        StoreEntry? Get(string name, CancellationToken cancellationToken);

        Stream OpenRead(string name, CancellationToken cancellationToken);

        /// <summary>
        /// Starts writing <paramref name="name"/>. Nothing is visible under that name before
        /// <see cref="IStoreWriter.Commit"/> (for stores that cannot rename, before <see cref="IStoreWriter.Finish"/>).
        /// </summary>
        IStoreWriter OpenWrite(string name, CancellationToken cancellationToken);

        /// <summary>
        /// Starts writing a folder of files (a Directory-format backup): the files are made in
        /// <see cref="IDirectoryWriter.LocalPath"/> and published by Finish and Commit.
        /// </summary>
        IDirectoryWriter OpenDirectoryWrite(string name, CancellationToken cancellationToken);

        /// <summary>Deletes a file, or a folder with everything in it. Deleting what does not exist is not an error.</summary>
        void Delete(string name, CancellationToken cancellationToken);
    }

    /// <summary>
    /// A write in progress. The protocol: write the stream, <see cref="Finish"/> (durable), write the manifest,
    /// <see cref="Commit"/> (visible under the final name). <see cref="Abort"/> (or Dispose before Commit) removes all of it.
    /// </summary>
    public interface IPendingWrite : IDisposable
    {
        void Finish(CancellationToken cancellationToken);
        void Commit(CancellationToken cancellationToken);
        void Abort();
    }

    public interface IStoreWriter : IPendingWrite
    {
        Stream Stream { get; }
        /// <summary>Bytes accepted so far.</summary>
        long BytesWritten { get; }
    }

    public interface IDirectoryWriter : IPendingWrite
    {
        /// <summary>A local folder where the files are made (pg_dump --file).</summary>
        string LocalPath { get; }
    }
}
