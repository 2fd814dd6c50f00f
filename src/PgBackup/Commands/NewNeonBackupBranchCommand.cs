using System;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>New-NeonBackupBranch: a copy-on-write backup branch backup_yyyyMMdd_HHmmss of the default (or given) branch.</summary>
    [Cmdlet(VerbsCommon.New, "NeonBackupBranch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(NeonBackupBranch))]
    public sealed class NewNeonBackupBranchCommand : NeonCmdlet
    {
        /// <summary>The branch to back up, by name or id; the project's default branch when absent.</summary>
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? ParentBranch { get; set; }

        /// <summary>The new branch's name; backup_yyyyMMdd_HHmmss (UTC) when absent.</summary>
        [Parameter]
        [ValidateLength(1, 256)]
        public string? Name { get; set; }

        /// <summary>When Neon deletes the branch by itself: in the future, at most 30 days ahead.</summary>
        [Parameter]
        public DateTime? ExpiresAt { get; set; }

        /// <summary>Seconds to wait for Neon's operations.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int Timeout { get; set; } = 300;

        protected override int TimeoutSeconds => Timeout;

        protected override void ProcessRecord()
        {
            if (ExpiresAt.HasValue)
            {
                try { NeonBackupManager.ValidateExpiry(ExpiresAt.Value, DateTime.UtcNow); }
                catch (PgBackupException e) { Fail(e); }
            }
            var project = Project;
            var name = Name ?? NeonBackupManager.BackupName(DateTime.UtcNow);
            if (!ShouldProcess($"Neon project {project.ProjectId}", $"Create backup branch '{name}' of {(ParentBranch is null ? "the default branch" : $"'{ParentBranch}'")}"))
                return;
            try
            {
                var branch = WithManager((m, ct) => m.CreateBackup(project, ParentBranch, Name, ExpiresAt, ct));
                WriteObject(branch);
            }
            catch (PgBackupException e)
            {
                Fail(e, project.ProjectId);
            }
        }
    }
}
