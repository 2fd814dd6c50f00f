using System;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// Anything retention can plan over and remove: a backup in a folder or bucket (<see cref="BackupInfo"/>), a Neon
    /// backup branch, or any other kind of backup that has a time, a group and an identity.
    /// </summary>
    public interface IRetentionCandidate
    {
        /// <summary>What identifies it to the user: a path, an s3:// URI, a branch id.</summary>
        string Id { get; }

        /// <summary>When the backup was taken (UTC). Retention orders and buckets by this, never by file times.</summary>
        DateTime Time { get; }

        /// <summary>Backups of one group never count for another: a database in one location, a Neon project's branches.</summary>
        string Group { get; }

        /// <summary>A complete, verifiable backup. Only good backups are counted as kept.</summary>
        bool IsGood { get; }

        /// <summary>Removes the backup (all its parts). Throws <see cref="PgBackupException"/> when it cannot.</summary>
        void Remove(IOperationLog log, CancellationToken cancellationToken);
    }
}
