using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Remove-PgBackup: deletes backups (the data and its manifest, nothing else); refuses anything that is not a backup.</summary>
    [Cmdlet(VerbsCommon.Remove, "PgBackup", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(BackupInfo))]
    public sealed class RemovePgBackupCommand : PgBackupCmdlet
    {
        private const string PathSet = "Path";
        private const string InputSet = "InputObject";

        /// <summary>Paths of backups: the data file or folder (or its manifest). Wildcards are not expanded.</summary>
        [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LiteralPath")]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = System.Array.Empty<string>();

        [Parameter(ParameterSetName = InputSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public BackupInfo[] InputObject { get; set; } = System.Array.Empty<BackupInfo>();

        /// <summary>Writes each removed backup's BackupInfo.</summary>
        [Parameter] public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == PathSet)
            {
                foreach (var p in Path)
                {
                    var full = ResolvePath(p);
                    if (TryRun((log, ct) => BackupCatalog.GetAt(full, StoreOptions.Default, log, ct), full, out var backup))
                        Remove(backup);
                }
            }
            else
            {
                foreach (var backup in InputObject)
                    if (backup is not null) Remove(backup);
            }
        }

        private void Remove(BackupInfo backup)
        {
            if (!ShouldProcess(backup.Path, $"Remove the backup of '{backup.Database}' taken {backup.StartTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)}Z ({backup.Status}){(backup.ManifestPath is null ? "" : " and its manifest")}"))
                return;
            if (TryRun((log, ct) => { backup.Remove(log, ct); return true; }, backup, out _) && PassThru)
                WriteObject(backup);
        }
    }
}
