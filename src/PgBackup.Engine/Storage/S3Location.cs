using System;
using System.Text.RegularExpressions;

namespace PgBackup
{
    /// <summary>
    /// An <c>s3://bucket/prefix/</c> location: a bucket and a key prefix (empty, or ending in '/'). The prefix is a
    /// "folder" in the bucket; backups are the objects directly under it.
    /// </summary>
    public sealed class S3Location
    {
        public const string Scheme = "s3://";

        // Lenient enough for S3-compatible services (some allow capitals and underscores), strict enough to catch typos.
        private static readonly Regex BucketPattern = new Regex(@"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$", RegexOptions.Compiled | RegexOptions.CultureInvariant);

        private S3Location(string bucket, string prefix)
        {
            Bucket = bucket;
            Prefix = prefix;
        }

        public string Bucket { get; }

        /// <summary>The key prefix: "" for the bucket's top level, otherwise ending in '/'.</summary>
        public string Prefix { get; }

        /// <summary>The location as users write it, always ending in '/': <c>s3://bucket/prefix/</c>.</summary>
        public override string ToString() => Scheme + Bucket + "/" + Prefix;

        public static bool IsS3(string? text) => text is not null && text.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

        /// <summary>Parses a location (a "folder"): <c>s3://bucket</c>, <c>s3://bucket/</c>, <c>s3://bucket/a/b</c> or <c>s3://bucket/a/b/</c>.</summary>
        public static S3Location Parse(string uri)
        {
            var (bucket, key) = Split(uri);
            key = key.Trim('/');
            return new S3Location(bucket, key.Length == 0 ? "" : key + "/");
        }

        /// <summary>
        /// Splits the URI of one backup (<c>s3://bucket/prefix/backup_x.sql.gz</c>, or <c>.../backup_x.dir/</c>) into the
        /// location that holds it and its name there.
        /// </summary>
        public static (S3Location Location, string Name) ParseObject(string uri)
        {
            var (bucket, key) = Split(uri);
            key = key.TrimEnd('/');
            if (key.Length == 0)
                throw Invalid(uri, "it names a bucket, not a backup in it (s3://bucket/prefix/backup_<db>_<time>.sql.gz)");
            int slash = key.LastIndexOf('/');
            var prefix = slash < 0 ? "" : key.Substring(0, slash + 1);
            return (new S3Location(bucket, prefix), key.Substring(slash + 1));
        }

        /// <summary>The object key of <paramref name="name"/> (a name relative to this location).</summary>
        public string Key(string name) => Prefix + name;

        /// <summary>The s3:// URI of <paramref name="name"/>.</summary>
        public string Uri(string name) => Scheme + Bucket + "/" + Prefix + name;

        private static (string Bucket, string Key) Split(string uri)
        {
            if (!IsS3(uri)) throw Invalid(uri, "it does not start with s3://");
            var rest = uri.Substring(Scheme.Length);
            int slash = rest.IndexOf('/');
            var bucket = slash < 0 ? rest : rest.Substring(0, slash);
            var key = slash < 0 ? "" : rest.Substring(slash + 1);
            if (bucket.Length == 0) throw Invalid(uri, "it has no bucket name");
            if (!BucketPattern.IsMatch(bucket) || bucket.Contains(".."))
                throw Invalid(uri, $"'{bucket}' is not a valid bucket name (3-63 letters, digits, dots and hyphens)");
            if (key.Contains("//")) throw Invalid(uri, "it has an empty folder name ('//')");
            foreach (char c in key)
                if (c < 32 || c == 127 || c == '\\')
                    throw Invalid(uri, "its key contains a control character or a backslash");
            foreach (var segment in key.Split('/'))
                if (segment == "." || segment == "..")
                    throw Invalid(uri, "its key contains '.' or '..' as a folder name");
            if (System.Text.Encoding.UTF8.GetByteCount(key) > 900) throw Invalid(uri, "its key is too long");
            return (bucket, key);
        }

        private static PgBackupException Invalid(string uri, string why) =>
            new PgBackupException(ErrorIds.S3InvalidUri, ErrorKind.InvalidArgument, $"'{uri}' is not a valid S3 location: {why}.", uri)
            {
                RecommendedAction = "Write S3 locations as s3://bucket/prefix/ (for example s3://my-backups/postgres/).",
            };
    }
}
