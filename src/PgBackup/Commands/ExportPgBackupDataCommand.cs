using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Export-PgBackupData: gets a table's rows back from a backup, as objects or CSV.</summary>
    [Cmdlet(VerbsData.Export, "PgBackupData", DefaultParameterSetName = "InputObject")]
    [OutputType(typeof(PSObject), typeof(ExportResult))]
    public sealed class ExportPgBackupDataCommand : PgBackupRestoringCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "";

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Table { get; set; } = "";

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Where { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OutFile { get; set; }

        protected override void ProcessRecord()
        {
            var path = InputObject?.Path ?? ResolvePath(Path);
            var storeOptions = StorageOptionsFor(InputObject);
            var outFile = OutFile is null ? null : GetUnresolvedProviderPathFromPSPath(OutFile);
            using var decryption = DecryptionFromParameters();
            var verifier = Verifier();
            try
            {
                var (result, rows) = Run((log, ct) => DataExporter.Export(new ExportRequest
                {
                    BackupPath = path,
                    StoreOptions = storeOptions,
                    Connection = ResolveConnection(ConnectionString, Credential, log),
                    Table = Table,
                    Where = Where,
                    OutFile = outFile,
                    Decryption = decryption,
                    VerifyKey = verifier,
                    Options = new RestoreOptions { PgBinPath = PgBinPath is null ? null : ResolvePath(PgBinPath) },
                }, log, ct));
                if (outFile is not null)
                {
                    WriteObject(result);
                    return;
                }
                foreach (var row in rows)
                {
                    var o = new PSObject();
                    foreach (var (name, value) in row) o.Properties.Add(new PSNoteProperty(name, value));
                    WriteObject(o);
                }
            }
            catch (PgBackupException e)
            {
                Fail(e, path);
            }
        }
    }
}
