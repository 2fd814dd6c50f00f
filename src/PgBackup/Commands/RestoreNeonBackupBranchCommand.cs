using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>
    /// Restore-NeonBackupBranch: restores the default branch (or -TargetBranch) from a backup branch with Neon's
    /// restore call; the target keeps its id, name and endpoint, its previous state is kept under -PreserveUnderName.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "NeonBackupBranch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Branch")]
    [OutputType(typeof(NeonRestoreResult))]
    public sealed class RestoreNeonBackupBranchCommand : NeonCmdlet
    {
        /// <summary>The backup branch to restore from (from Get-NeonBackupBranch).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
        public NeonBackupBranch InputObject { get; set; } = null!;

        /// <summary>The backup branch to restore from, by name or id.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Branch")]
        [ValidateNotNullOrEmpty]
        public string Branch { get; set; } = null!;

        /// <summary>The branch to restore, by name or id; the project's default branch when absent.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TargetBranch { get; set; }

        /// <summary>The name of the branch that keeps the target's current state; &lt;target&gt;_old_&lt;yyyyMMdd_HHmmss&gt; when absent.</summary>
        [Parameter]
        [ValidateLength(1, 256)]
        public string? PreserveUnderName { get; set; }

        /// <summary>Seconds to wait for Neon's operations.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int Timeout { get; set; } = 300;

        protected override int TimeoutSeconds => Timeout;

        private bool _done;

        protected override void ProcessRecord()
        {
            if (_done)
            {
                WriteError(ToErrorRecord(new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"Restore-NeonBackupBranch restores from one backup branch; '{InputObject?.Name ?? Branch}' was not used."), InputObject));
                return;
            }
            _done = true;
            NeonProjectRef project;
            NeonOptions options;
            string source;
            if (ParameterSetName == "InputObject")
            {
                options = OptionsFor(InputObject);
                project = ProjectId is null && InputObject.ProjectId.Length > 0
                    ? new NeonProjectRef { ProjectId = InputObject.ProjectId, Source = "the input branch" }
                    : Project;
                source = InputObject.Id;
            }
            else
            {
                options = Options;
                project = Project;
                source = Branch;
            }
            string target = TargetBranch ?? "the default branch";
            if (!ShouldProcess($"{(TargetBranch is null ? "the default branch" : $"branch '{TargetBranch}'")} of Neon project {project.ProjectId}",
                    $"Restore from backup branch '{(InputObject?.Name ?? Branch)}', keeping the current state as '{PreserveUnderName ?? "<target>_old_<timestamp>"}'"))
                return;
            try
            {
                var result = WithManager((m, ct) => m.Restore(project, source, TargetBranch, PreserveUnderName, ct), options);
                WriteObject(result);
            }
            catch (PgBackupException e)
            {
                Fail(e, target);
            }
        }
    }
}
