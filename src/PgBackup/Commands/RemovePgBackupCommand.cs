using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Remove-PgBackup: deletes backups (the data and its manifest, nothing else); refuses anything that is not a backup.</summary>
    [Cmdlet(VerbsCommon.Remove, "PgBackup", DefaultParameterSetName = InputSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(BackupInfo))]
    public sealed class RemovePgBackupCommand : PgBackupStorageCmdlet
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
                var options = StorageOptions();
                foreach (var p in Path)
                {
                    var full = ResolvePath(p);
                    if (TryRun((log, ct) => BackupCatalog.GetAt(full, options, log, ct), full, out var backup))
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
            // Piped objects reach their store with the settings they were listed with, unless S3 parameters are given.
            bool own = !StorageParametersGiven;
            var options = own ? null : StorageOptions();
            if (TryRun((log, ct) =>
                {
                    if (own) backup.Remove(log, ct);
                    else BackupCatalog.RemoveAt(backup.Path, options!, log, ct);
                    return true;
                }, backup, out _) && PassThru)
                WriteObject(backup);
        }
    }
}
