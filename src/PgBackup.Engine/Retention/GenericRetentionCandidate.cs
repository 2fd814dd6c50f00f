using System;
using System.Globalization;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// Any other object that describes a backup, made plannable from its properties: a time (Time, StartTime,
    /// CreatedAt, created_at, CreationTime, Created, Timestamp), a group (Group, or Database with Location) and an
    /// identity (Id, Path, FullName, Name, Key, Uri). IsGood, when present, says whether it counts; without it, it does.
    /// It can be removed only when its Path (or FullName, or a rooted Id) is the path of a backup.
    /// </summary>
    public sealed class GenericRetentionCandidate : IRetentionCandidate
    {
        private static readonly string[] TimeNames = { "Time", "StartTime", "CreatedAt", "created_at", "CreationTime", "Created", "Timestamp" };
        private static readonly string[] IdNames = { "Id", "Path", "FullName", "Name", "Key", "Uri" };
        private static readonly string[] DatabaseNames = { "Database", "DatabaseName", "database_name", "db" };

        private GenericRetentionCandidate(object source, string id, DateTime time, string group, bool isGood, string? path)
        {
            Source = source;
            Id = id;
            Time = time;
            Group = group;
            IsGood = isGood;
            BackupPath = path;
        }

        /// <summary>The object it was made from.</summary>
        public object Source { get; }
        public string Id { get; }
        public DateTime Time { get; }
        public string Group { get; }
        public bool IsGood { get; }
        /// <summary>The path of the backup, when the object names one.</summary>
        public string? BackupPath { get; }

        /// <summary>
        /// Reads <paramref name="source"/>'s properties through <paramref name="property"/> (name → value, or null when
        /// absent). Throws <see cref="PgBackupException"/> (InvalidParameter) when it has no time, group or identity.
        /// </summary>
        public static GenericRetentionCandidate From(object source, Func<string, object?> property)
        {
            string described = Describe(source);
            DateTime? time = null;
            foreach (var n in TimeNames)
                if ((time = ToTime(property(n))).HasValue) break;
            string? id = null;
            foreach (var n in IdNames)
                if (!string.IsNullOrEmpty(id = ToText(property(n)))) break;
            string? group = ToText(property("Group"));
            if (string.IsNullOrEmpty(group))
            {
                string? database = null;
                foreach (var n in DatabaseNames)
                    if (!string.IsNullOrEmpty(database = ToText(property(n)))) break;
                if (!string.IsNullOrEmpty(database))
                {
                    var location = ToText(property("Location"));
                    group = string.IsNullOrEmpty(location) ? database : database + " @ " + location;
                }
            }

            string? missing = !time.HasValue ? "a time (Time, StartTime, CreatedAt, created_at, CreationTime, Created or Timestamp)"
                : string.IsNullOrEmpty(group) ? "a group (Group, or Database and Location)"
                : string.IsNullOrEmpty(id) ? "an identity (Id, Path, FullName, Name, Key or Uri)"
                : null;
            if (missing is not null)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"{described} cannot be planned: it has no {missing}. Nothing was removed.", source)
                {
                    RecommendedAction = "Pipe Get-PgBackup objects, or objects with a time, a Database or Group, and an Id or Path.",
                };

            bool isGood = true;
            var goodValue = property("IsGood");
            if (goodValue is bool b) isGood = b;
            else if (goodValue is string s && bool.TryParse(s, out var parsed)) isGood = parsed;

            string? path = ToText(property("Path")) ?? ToText(property("FullName"));
            if (path is null && id!.IndexOfAny(new[] { '/', '\\' }) >= 0 && System.IO.Path.IsPathRooted(id)) path = id;
            return new GenericRetentionCandidate(source, id!, time!.Value, group!, isGood, path);
        }

        /// <summary>Removes the backup at <see cref="BackupPath"/>, as Remove-PgBackup does; anything else is refused.</summary>
        public void Remove(IOperationLog log, CancellationToken cancellationToken)
        {
            var leaf = BackupPath is null ? null : System.IO.Path.GetFileName(BackupPath.TrimEnd('/', '\\'));
            if (leaf is null || BackupNaming.Parse(BackupNaming.StripAuxiliarySuffix(leaf)) is null)
                throw new PgBackupException(ErrorIds.RemoveFailed, ErrorKind.InvalidOperation,
                    $"{Id} was not removed: PgBackup removes only its own objects and backups given by path, and this is neither.", Id)
                {
                    RecommendedAction = "Remove it with the tool that made it, or pipe objects that can remove themselves (Get-PgBackup, Get-NeonBackupBranch).",
                };
            BackupCatalog.RemoveAt(BackupPath!, StoreOptions.Default, log, cancellationToken);
        }

        public override string ToString() => Id;

        private static string Describe(object source)
        {
            var text = source.ToString();
            return string.IsNullOrEmpty(text) || text!.Length > 200 ? "An object of type " + source.GetType().Name : "'" + text + "'";
        }

        private static string? ToText(object? value) => value switch
        {
            null => null,
            string s => s.Length == 0 ? null : s,
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) is { Length: > 0 } t ? t : null,
        };

        private static DateTime? ToTime(object? value) => value switch
        {
            DateTime d => RetentionPlanner.ToUtc(d),
            DateTimeOffset o => o.UtcDateTime,
            string s when DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var o) => o.UtcDateTime,
            _ => null,
        };
    }
}
