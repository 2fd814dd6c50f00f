using System;
using System.IO;

namespace PgBackup
{
    /// <summary>Settings for opening a store; object-storage settings are used only for s3:// locations.</summary>
    public sealed class StoreOptions
    {
        public static readonly StoreOptions Default = new StoreOptions();
    }

    /// <summary>Opens the store for a location (a folder or an s3:// URI) or for a backup's path.</summary>
    public static class StoreFactory
    {
        public static bool IsRemote(string location) => location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

        /// <summary>Opens the location that holds backups; <paramref name="create"/> makes a missing local folder.</summary>
        public static IBackupStore OpenLocation(string location, StoreOptions options, bool create)
        {
            if (IsRemote(location))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.NotImplemented, $"Object storage locations ({location}) are not supported yet.", location);
            return new LocalStore(location, create);
        }

        /// <summary>Splits a backup's path into its store and its name in that store.</summary>
        public static (IBackupStore Store, string Name) OpenBackup(string path, StoreOptions options)
        {
            if (IsRemote(path))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.NotImplemented, $"Object storage locations ({path}) are not supported yet.", path);
            var full = Path.GetFullPath(path.TrimEnd('/', '\\').Length == 0 ? path : path.TrimEnd('/', '\\'));
            var folder = Path.GetDirectoryName(full);
            if (folder is null || !Directory.Exists(folder))
                throw new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, $"{path} does not exist.", path);
            return (new LocalStore(folder, create: false), Path.GetFileName(full));
        }
    }
}
