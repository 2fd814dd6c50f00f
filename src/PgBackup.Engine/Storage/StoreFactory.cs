using System;
using System.IO;

namespace PgBackup
{
    /// <summary>Opens the store for a location (a folder, an s3:// URI, or an az:// or https:// Azure Blob address) or for a backup's path.</summary>
    public static class StoreFactory
    {
        public static bool IsRemote(string location) => S3Location.IsS3(location) || AzureLocation.IsAzure(location);

        /// <summary>
        /// Opens the location that holds backups; <paramref name="create"/> makes a missing local folder (buckets are
        /// never created).
        /// </summary>
        public static IBackupStore OpenLocation(string location, StoreOptions options, bool create)
        {
            if (S3Location.IsS3(location)) return new S3Store(S3Location.Parse(location), options);
            if (AzureLocation.IsAzure(location)) return new AzureStore(AzureLocation.Parse(location), options);
            return new LocalStore(location, create);
        }

        /// <summary>The settings to reach <paramref name="store"/> again, carried (hidden) by the objects listed from it.</summary>
        internal static StoreOptions OptionsOf(IBackupStore store) => store switch
        {
            S3Store s => s.Options,
            AzureStore a => a.Options,
            _ => StoreOptions.Default,
        };

        /// <summary>Splits a backup's path into its store and its name in that store.</summary>
        public static (IBackupStore Store, string Name) OpenBackup(string path, StoreOptions options)
        {
            if (AzureLocation.IsAzure(path))
            {
                var (location, name) = AzureLocation.ParseObject(path);
                return (new AzureStore(location, options), name);
            }
            if (S3Location.IsS3(path))
            {
                var (location, name) = S3Location.ParseObject(path);
                return (new S3Store(location, options), name);
            }
            var full = Path.GetFullPath(path.TrimEnd('/', '\\').Length == 0 ? path : path.TrimEnd('/', '\\'));
            var folder = Path.GetDirectoryName(full);
            if (folder is null || !Directory.Exists(folder))
                throw new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, $"{path} does not exist.", path);
            return (new LocalStore(folder, create: false), Path.GetFileName(full));
        }
    }
}
