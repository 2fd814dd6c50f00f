using System.Collections.Generic;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Remove-NeonBackupBranch: deletes branches (from the pipeline, or by name or id); a refusal is an error for that branch only.</summary>
    [Cmdlet(VerbsCommon.Remove, "NeonBackupBranch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Branch")]
    [OutputType(typeof(NeonBackupBranch))]
    public sealed class RemoveNeonBackupBranchCommand : NeonCmdlet
    {
        /// <summary>Branches from Get-NeonBackupBranch or New-NeonBackupBranch.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
        public NeonBackupBranch[] InputObject { get; set; } = null!;

        /// <summary>Branch names or ids in the project.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Branch")]
        [ValidateNotNullOrEmpty]
        public string[] Branch { get; set; } = null!;

        /// <summary>Seconds to wait for Neon's operations for each branch.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int Timeout { get; set; } = 300;

        /// <summary>Writes each removed branch to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override int TimeoutSeconds => Timeout;

        private List<NeonBackupBranch>? _branches;

        protected override void ProcessRecord()
        {
            if (ParameterSetName == "InputObject")
            {
                foreach (var b in InputObject)
                {
                    if (b is null) continue;
                    Remove(b, OptionsFor(b));
                }
                return;
            }
            var project = Project;
            foreach (var nameOrId in Branch)
            {
                if (_branches is null && !TryWithManager((m, ct) => m.ListBranches(project.ProjectId, ct), project.ProjectId, out _branches))
                    return;
                var match = _branches!.Find(b => b.Id == nameOrId) ?? _branches.Find(b => b.Name == nameOrId);
                if (match is null)
                {
                    WriteError(ToErrorRecord(new PgBackupException(ErrorIds.NeonNotFound, ErrorKind.ObjectNotFound,
                        $"Project {project.ProjectId} has no branch named or with the id '{nameOrId}'.", nameOrId)));
                    continue;
                }
                Remove(match, Options);
            }
        }

        private void Remove(NeonBackupBranch branch, NeonOptions options)
        {
            if (!ShouldProcess($"branch '{branch.Name}' ({branch.Id}) of Neon project {branch.ProjectId}", "Delete"))
                return;
            if (TryWithManager((m, ct) => { m.Remove(branch, ct); return true; }, branch, out _, options) && PassThru)
                WriteObject(branch);
        }
    }
}
