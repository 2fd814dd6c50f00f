using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>
    /// Remove-PgBackupScratchDatabase: drops databases PgBackup made for its own use. Without -Name, the stale ones (what
    /// every restore, drill and export drops first); with -Name, those named, kept ones included. Never one with
    /// connections; one whose job may still run only with -Force.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "PgBackupScratchDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(ScratchDatabase))]
    public sealed class RemovePgBackupScratchDatabaseCommand : PgBackupServerCmdlet
    {
        private readonly List<string> _names = new List<string>();

        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[]? Name { get; set; }

        /// <summary>Also databases whose job may still run (made here by a running process, or elsewhere less than a day ago).</summary>
        [Parameter] public SwitchParameter Force { get; set; }

        [Parameter] public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            if (Name is not null) _names.AddRange(Name);
        }

        protected override void EndProcessing()
        {
            DatabaseAdmin? admin = null;
            try
            {
                admin = ConnectAdmin();
                var all = Run((log, ct) => ScratchDatabases.List(admin, ct));
                if (_names.Count == 0)
                {
                    foreach (var db in all.Where(d => d.Stale)) Drop(admin, db);
                    return;
                }
                foreach (var name in _names.Distinct())
                {
                    var db = all.FirstOrDefault(d => d.Name == name);
                    if (db is null)
                        WriteError(ToErrorRecord(new PgBackupException(ErrorIds.NotAScratchDatabase, ErrorKind.ObjectNotFound,
                            $"'{name}' is not a database PgBackup made for its own use on {admin.Server.Info.Server} (none by that name carries PgBackup's mark); nothing was dropped.", name)));
                    else if (db.Connections > 0)
                        WriteError(ToErrorRecord(InUse(db, $"{db.Connections} session(s) are connected to it")));
                    else if (db.Status == ScratchStatus.Running && !Force)
                        WriteError(ToErrorRecord(InUse(db, $"the PgBackup job that made it still runs (process {db.ProcessId}); -Force drops it anyway")));
                    else if (db.Status == ScratchStatus.Recent && !Force)
                        WriteError(ToErrorRecord(InUse(db, $"it was made on {db.Host} {RetentionPolicy.FormatSpan(db.Age)} ago, and its job may still run; -Force drops it anyway")));
                    else Drop(admin, db);
                }
            }
            catch (PgBackupException e)
            {
                Fail(e);
            }
            finally
            {
                admin?.Dispose();
            }
        }

        private static PgBackupException InUse(ScratchDatabase db, string why) =>
            new PgBackupException(ErrorIds.ScratchDatabaseInUse, ErrorKind.ResourceBusy, $"'{db.Name}' was not dropped: {why}.", db.Name);

        private void Drop(DatabaseAdmin admin, ScratchDatabase db)
        {
            if (!ShouldProcess($"{db.Name} on {db.Server}", $"Drop {db.Describe()}; status {db.Status}"))
                return;
            if (!TryRun((log, ct) => admin.DropIfUnused(db.Name, ct), db.Name, out var dropped)) return;
            if (!dropped)
            {
                WriteError(ToErrorRecord(InUse(db, "a session connected to it")));
                return;
            }
            WriteVerbose($"Dropped {db.Describe()}.");
            if (PassThru) WriteObject(db);
        }
    }
}
