using System;

namespace PgBackup
{
    public enum RetentionAction
    {
        Keep,
        Remove,
    }

    /// <summary>
    /// What retention decided about one backup (<c>PgBackup.RetentionDecision</c>): keep it (and why) or remove it.
    /// </summary>
    public sealed class RetentionDecision
    {
        internal RetentionDecision(IRetentionCandidate candidate, DateTime timeUtc, RetentionAction action, string[] reasons)
        {
            Candidate = candidate;
            Id = candidate.Id;
            Time = timeUtc;
            Group = candidate.Group ?? "";
            IsGood = candidate.IsGood;
            Action = action;
            Reasons = reasons;
        }

        /// <summary>The backup's identity: its path, s3:// URI or branch id.</summary>
        public string Id { get; }
        /// <summary>When the backup was taken (UTC).</summary>
        public DateTime Time { get; }
        /// <summary>The group it was planned in (a database in one location).</summary>
        public string Group { get; }
        public RetentionAction Action { get; }
        /// <summary>Why it is kept (<c>last 3</c>, <c>daily 2026-03-15</c>, <c>weekly 2026-W11</c>, <c>newest</c>...); empty when a rule removes it.</summary>
        public string[] Reasons { get; }
        /// <summary>Whether it was counted: only good backups are.</summary>
        public bool IsGood { get; }
        /// <summary>True once it has been removed (false with -WhatIf, or when the removal failed).</summary>
        public bool Removed { get; set; }
        /// <summary>The object that was planned, as it was given (a PgBackup.BackupInfo, a branch, a custom object).</summary>
        public object Backup => Candidate is GenericRetentionCandidate g ? g.Source : Candidate;
        /// <summary>The object as retention sees it; its Remove method deletes the backup.</summary>
        public IRetentionCandidate Candidate { get; }

        public override string ToString() => Action + " " + Id;
    }
}
