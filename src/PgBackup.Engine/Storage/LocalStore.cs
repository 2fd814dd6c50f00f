using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>A local (or mounted network) folder. Writes go to <c>&lt;name&gt;.partial</c> and are renamed on commit.</summary>
    public sealed class LocalStore : IBackupStore
    {
        public LocalStore(string folder, bool create)
        {
            Location = Path.GetFullPath(folder);
            if (create)
            {
                try { Directory.CreateDirectory(Location); }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new PgBackupException(ErrorIds.BackupWriteFailed, ErrorKind.WriteError, $"Could not create the folder {Location}: {e.Message}", Location, e);
                }
            }
            else if (!Directory.Exists(Location))
                throw new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, $"The folder {Location} does not exist.", Location);
        }

        public string Location { get; }

        /// <summary>The full path of <paramref name="name"/>, which must stay inside the folder (<see cref="StoreName"/>).</summary>
        public string GetPath(string name) => StoreName.LocalPath(Location, name);
        public string? GetLocalPath(string name) => GetPath(name);

        public IReadOnlyList<StoreEntry> List(string? under, CancellationToken cancellationToken)
        {
            var dir = under is null ? Location : GetPath(under);
            if (!Directory.Exists(dir)) return Array.Empty<StoreEntry>();
            var prefix = under is null ? "" : under.TrimEnd('/') + "/";
            var result = new List<StoreEntry>();
            foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Links could lead out of the folder, and names that break the rule are nothing PgBackup wrote.
                if ((info.Attributes & FileAttributes.ReparsePoint) != 0 || StoreName.Problem(prefix + info.Name) is not null) continue;
                if (info is FileInfo f)
                    result.Add(new StoreEntry(prefix + f.Name, f.Length, f.LastWriteTimeUtc, false));
                else if (info is DirectoryInfo d)
                    result.Add(new StoreEntry(prefix + d.Name, DirectorySize(d), NewestWrite(d), true));
            }
            return result;
        }

        public StoreEntry? Get(string name, CancellationToken cancellationToken)
        {
            var path = GetPath(name);
            if (File.Exists(path)) { var f = new FileInfo(path); return new StoreEntry(name, f.Length, f.LastWriteTimeUtc, false); }
            if (Directory.Exists(path)) { var d = new DirectoryInfo(path); return new StoreEntry(name, DirectorySize(d), NewestWrite(d), true); }
            return null;
        }

        private static long DirectorySize(DirectoryInfo d)
        {
            try { return d.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { return 0; }
        }

        private static DateTime NewestWrite(DirectoryInfo d)
        {
            try
            {
                var newest = d.LastWriteTimeUtc;
                foreach (var f in d.EnumerateFiles("*", SearchOption.AllDirectories))
                    if (f.LastWriteTimeUtc > newest) newest = f.LastWriteTimeUtc;
                return newest;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { return d.LastWriteTimeUtc; }
        }

        public Stream OpenRead(string name, CancellationToken cancellationToken)
        {
            var path = GetPath(name);
            try
            {
                return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is FileNotFoundException || e is DirectoryNotFoundException)
            {
                throw new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, $"{path} does not exist.", path, e);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new PgBackupException(ErrorIds.BackupReadFailed, ErrorKind.ReadError, $"Could not read {path}: {e.Message}", path, e);
            }
        }

        public IStoreWriter OpenWrite(string name, CancellationToken cancellationToken) => new FileWriter(this, name);

        public IDirectoryWriter OpenDirectoryWrite(string name, CancellationToken cancellationToken) => new FolderWriter(this, name);

        public void Delete(string name, CancellationToken cancellationToken)
        {
            var path = GetPath(name);
            try
            {
                if (File.Exists(path)) File.Delete(path);
                else if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new PgBackupException(ErrorIds.RemoveFailed, ErrorKind.WriteError, $"Could not delete {path}: {e.Message}", path, e);
            }
        }

        public void Dispose() { }

        internal static PgBackupException WriteFailure(string path, Exception e)
        {
            if (IsDiskFull(e))
                return new PgBackupException(ErrorIds.DiskFull, ErrorKind.WriteError, $"The disk is full while writing {path}.", path, e)
                {
                    RecommendedAction = "Free space (for example Invoke-PgBackupRetention) or write the backup elsewhere (-Path, or an s3:// location).",
                };
            return new PgBackupException(ErrorIds.BackupWriteFailed, ErrorKind.WriteError, $"Could not write {path}: {e.Message}", path, e);
        }

        internal static bool IsDiskFull(Exception e)
        {
            for (var x = e; x is not null; x = x.InnerException)
            {
                if (x is IOException io)
                {
                    int code = io.HResult & 0xFFFF;
                    if (code == 112 || code == 39 || code == 28) return true; // ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL, ENOSPC
                    if (io.Message.IndexOf("No space left", StringComparison.OrdinalIgnoreCase) >= 0) return true;
                }
            }
            return false;
        }

        /// <summary>Renames <paramref name="from"/> to <paramref name="to"/>, never replacing an existing entry.</summary>
        private static void RenameNoReplace(string from, string to, bool isDirectory)
        {
            // Retried while another process (antivirus, a backup agent) holds one of the fresh files on Windows: FileCommit.
            FileCommit.Run(() =>
            {
                if (File.Exists(to) || Directory.Exists(to))
                    throw new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists, $"{to} already exists; it was not replaced.", to);
                if (isDirectory) Directory.Move(from, to);
                else File.Move(from, to);
            });
        }

        private sealed class FileWriter : IStoreWriter
        {
            private readonly string _partial;
            private readonly string _final;
            private readonly FileStream _file;
            private bool _finished, _committed, _aborted;

            public FileWriter(LocalStore store, string name)
            {
                _final = store.GetPath(name);
                _partial = BackupNaming.PartialName(_final);
                try
                {
                    var dir = Path.GetDirectoryName(_final);
                    if (dir is not null) Directory.CreateDirectory(dir);
                    _file = Create(_partial);
                }
                catch (IOException e) when (File.Exists(_partial))
                {
                    // Left by a writer that was killed (a rerun of the same copy or encryption), or being written now.
                    if (!RemoveIfAbandoned(_partial))
                        throw new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists, $"{_partial} already exists: another backup is being written under this name.", _partial, e);
                    try { _file = Create(_partial); }
                    catch (Exception again) when (again is IOException || again is UnauthorizedAccessException) { throw WriteFailure(_partial, again); }
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw WriteFailure(_partial, e);
                }
            }

            /// <summary>
            /// The writer holds its partial file open (FileShare.Read: on Windows a share mode, elsewhere .NET's shared
            /// flock), so that only a partial nobody holds opens exclusively: one whose writer has died. It is deleted as
            /// it closes. On NFS and SMB mounts, where .NET takes no lock for writers, a live writer's partial looks abandoned.
            /// </summary>
            private static bool RemoveIfAbandoned(string partial)
            {
                try
                {
                    using (new FileStream(partial, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
                    return true;
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    return false;
                }
            }

            private static FileStream Create(string partial) => new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);

            public Stream Stream => _file;
            public long BytesWritten => _finished ? new FileInfo(_partial).Length : _file.Position;

            public void Finish(CancellationToken cancellationToken)
            {
                try
                {
                    _file.Flush(flushToDisk: true);
                    _file.Dispose();
                    _finished = true;
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw WriteFailure(_partial, e);
                }
            }

            public void Commit(CancellationToken cancellationToken)
            {
                if (!_finished) Finish(cancellationToken);
                try { RenameNoReplace(_partial, _final, isDirectory: false); }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { throw WriteFailure(_final, e); }
                _committed = true;
            }

            public void Abort()
            {
                if (_committed || _aborted) return;
                _aborted = true;
                try { _file.Dispose(); } catch (IOException) { }
                try { File.Delete(_partial); } catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
            }

            public void Dispose()
            {
                if (!_committed) Abort();
            }
        }

        private sealed class FolderWriter : IDirectoryWriter
        {
            private readonly string _final;
            private bool _committed, _aborted;

            public FolderWriter(LocalStore store, string name)
            {
                _final = store.GetPath(name);
                LocalPath = BackupNaming.PartialName(_final);
                if (Directory.Exists(LocalPath) || File.Exists(LocalPath))
                    throw new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists, $"{LocalPath} already exists: another backup is being written under this name.", LocalPath);
            }

            /// <summary>pg_dump creates this folder itself; it must not exist yet.</summary>
            public string LocalPath { get; }

            public void Finish(CancellationToken cancellationToken)
            {
                if (!Directory.Exists(LocalPath))
                    throw new PgBackupException(ErrorIds.BackupWriteFailed, ErrorKind.WriteError, $"{LocalPath} was not written.", LocalPath);
            }

            public void Commit(CancellationToken cancellationToken)
            {
                try { RenameNoReplace(LocalPath, _final, isDirectory: true); }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { throw WriteFailure(_final, e); }
                _committed = true;
            }

            public void Abort()
            {
                if (_committed || _aborted) return;
                _aborted = true;
                try { if (Directory.Exists(LocalPath)) Directory.Delete(LocalPath, recursive: true); }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { }
            }

            public void Dispose()
            {
                if (!_committed) Abort();
            }
        }
    }
}
