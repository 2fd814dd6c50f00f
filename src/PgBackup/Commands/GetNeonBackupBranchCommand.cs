using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Get-NeonBackupBranch: the project's backup branches (backup_yyyyMMdd_HHmmss, or -Name), newest first.</summary>
    [Cmdlet(VerbsCommon.Get, "NeonBackupBranch")]
    [OutputType(typeof(NeonBackupBranch))]
    public sealed class GetNeonBackupBranchCommand : NeonCmdlet
    {
        /// <summary>Branch names to list (wildcards); the guide's backup_yyyyMMdd_HHmmss names when absent.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? Name { get; set; }

        protected override void ProcessRecord()
        {
            var project = Project;
            var patterns = Name?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
            try
            {
                var branches = WithManager((m, ct) => m.ListBackups(project.ProjectId,
                    patterns is null ? null : n => patterns.Any(p => p.IsMatch(n)), ct));
                foreach (var b in branches) WriteObject(b);
            }
            catch (PgBackupException e)
            {
                Fail(e, project.ProjectId);
            }
        }
    }
}
