using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Get-PgBackupScratchDatabase: lists the databases PgBackup made for its own use on a server, and which are stale.</summary>
    [Cmdlet(VerbsCommon.Get, "PgBackupScratchDatabase")]
    [OutputType(typeof(ScratchDatabase))]
    public sealed class GetPgBackupScratchDatabaseCommand : PgBackupServerCmdlet
    {
        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? Name { get; set; }

        protected override void EndProcessing()
        {
            var patterns = Name?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
            try
            {
                using var admin = ConnectAdmin();
                foreach (var db in Run((log, ct) => ScratchDatabases.List(admin, ct)))
                    if (patterns is null || patterns.Any(p => p.IsMatch(db.Name))) WriteObject(db);
            }
            catch (PgBackupException e)
            {
                Fail(e);
            }
        }
    }
}
