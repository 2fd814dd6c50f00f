using System;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// A Neon branch as the backup cmdlets show it (<c>PgBackup.NeonBackupBranch</c>): a copy-on-write snapshot of its
    /// parent at <see cref="CreatedAt"/>. Retention treats it like a backup file: <see cref="Id"/> is the branch id,
    /// the time is when it was created, the group is the project, and it is good once Neon reports it ready.
    /// </summary>
    public sealed class NeonBackupBranch : IRetentionCandidate
    {
        public string ProjectId { get; init; } = "";
        /// <summary>The branch id (<c>br-...</c>).</summary>
        public string Id { get; init; } = "";
        public string Name { get; init; } = "";
        public string? ParentId { get; init; }
        /// <summary>The parent's name, when the parent is known (branches whose parent was deleted have none).</summary>
        public string? ParentName { get; init; }
        /// <summary>When the branch was created (UTC): the time of the snapshot, and the time retention uses.</summary>
        public DateTime CreatedAt { get; init; }
        /// <summary>Neon's current state (<c>init</c>, <c>ready</c>, or whatever newer value Neon reports).</summary>
        public string State { get; init; } = "";
        public string? PendingState { get; init; }
        /// <summary>The logical size in bytes, when Neon reports it (it does once the branch has been measured).</summary>
        public long? LogicalSizeBytes { get; init; }
        public DateTime? ExpiresAt { get; init; }
        public bool IsDefault { get; init; }
        public bool IsProtected { get; init; }
        public TimeSpan Age => DateTime.UtcNow - CreatedAt;

        /// <summary>A usable backup: Neon reports the branch ready with nothing pending.</summary>
        public bool IsGood => string.Equals(State, "ready", StringComparison.Ordinal) && string.IsNullOrEmpty(PendingState);

        /// <summary>The branches of one Neon project are one group for retention.</summary>
        public string Group => "neon:" + ProjectId;

        DateTime IRetentionCandidate.Time => CreatedAt;

        /// <summary>How the branch was listed (API URL and key): internal, never shown or serialized.</summary>
        internal NeonOptions? Options { get; set; }

        /// <summary>Deletes the branch through the API it was listed with, and waits for Neon's operations.</summary>
        public void Remove(IOperationLog log, CancellationToken cancellationToken)
        {
            if (Options is null)
                throw new PgBackupException(ErrorIds.RemoveFailed, ErrorKind.InvalidOperation,
                    $"The branch '{Name}' ({Id}) was not listed by Get-NeonBackupBranch, so PgBackup does not know how to reach Neon for it.", Id);
            using var manager = new NeonBackupManager(Options, log);
            manager.Remove(this, cancellationToken);
        }

        internal static NeonBackupBranch From(NeonBranchJson b, string? parentName, NeonOptions? options) => new NeonBackupBranch
        {
            ProjectId = b.ProjectId,
            Id = b.Id,
            Name = b.Name,
            ParentId = b.ParentId,
            ParentName = parentName,
            CreatedAt = b.CreatedAt ?? DateTime.MinValue,
            State = b.CurrentState ?? "",
            PendingState = string.IsNullOrEmpty(b.PendingState) ? null : b.PendingState,
            LogicalSizeBytes = b.LogicalSize,
            ExpiresAt = b.ExpiresAt,
            IsDefault = b.IsDefault,
            IsProtected = b.Protected,
            Options = options,
        };

        public override string ToString() => Name;
    }

    /// <summary>What Restore-NeonBackupBranch did (<c>PgBackup.NeonRestoreResult</c>).</summary>
    public sealed class NeonRestoreResult
    {
        public string ProjectId { get; init; } = "";
        /// <summary>The branch that was restored: it keeps its id, name and endpoint, so its connection string stays valid.</summary>
        public string TargetBranchId { get; init; } = "";
        public string TargetBranchName { get; init; } = "";
        /// <summary>The backup branch whose data the target now has.</summary>
        public string SourceBranchId { get; init; } = "";
        public string SourceBranchName { get; init; } = "";
        /// <summary>The branch that keeps the target's state from before the restore (and its former children).</summary>
        public string? PreservedBranchId { get; init; }
        public string PreservedBranchName { get; init; } = "";
        public DateTime RestoredAt { get; init; }
        public TimeSpan Duration { get; init; }

        public override string ToString() => $"{TargetBranchName} <- {SourceBranchName}";
    }

    /// <summary>A Neon project, resolved from -ProjectId, NEON_PROJECT_ID or DATABASE_URL's host.</summary>
    public sealed class NeonProjectRef
    {
        public string ProjectId { get; init; } = "";
        public string? Name { get; init; }
        /// <summary>Where the project id came from, for verbose output.</summary>
        public string Source { get; init; } = "";
        /// <summary>When found through a connection string: the endpoint and the branch it points at.</summary>
        public string? EndpointId { get; init; }
        public string? EndpointBranchId { get; init; }

        public override string ToString() => ProjectId;
    }
}
