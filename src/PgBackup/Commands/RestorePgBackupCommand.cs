using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Restore-PgBackup: restores a backup so that the target is either restored and verified, or unchanged.</summary>
    [Cmdlet(VerbsData.Restore, "PgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "InputObject")]
    [OutputType(typeof(RestoreResult))]
    public sealed class RestorePgBackupCommand : PgBackupRestoringCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "";

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TargetDatabase { get; set; }

        [Parameter] public SwitchParameter CreateDatabase { get; set; }
        [Parameter] public SwitchParameter Force { get; set; }

        [Parameter]
        [ValidateRange(1, 64)]
        public int Jobs { get; set; } = 1;

        [Parameter] public string[]? Table { get; set; }
        [Parameter] public string[]? Schema { get; set; }
        [Parameter] public SwitchParameter NoOwner { get; set; }
        [Parameter] public SwitchParameter NoPrivileges { get; set; }
        [Parameter] public SwitchParameter ContinueOnError { get; set; }
        [Parameter] public SwitchParameter KeepPrevious { get; set; }

        /// <summary>Create the roles saved with the backup (New-PgBackup -Globals) that the server lacks, before restoring.</summary>
        [Parameter] public SwitchParameter CreateRoles { get; set; }

        protected override void ProcessRecord()
        {
            var path = InputObject?.Path ?? ResolvePath(Path);
            var storeOptions = StorageOptionsFor(InputObject);
            RestorePlan? plan = null;
            using var decryption = DecryptionFromParameters();
            var verifier = Verifier();
            try
            {
                plan = Run((log, ct) =>
                {
                    var connection = ResolveConnection(ConnectionString, Credential, log);
                    return new RestoreEngine().Prepare(new RestoreRequest
                    {
                        BackupPath = path,
                        StoreOptions = storeOptions,
                        Connection = connection,
                        TargetDatabase = TargetDatabase,
                        CreateDatabase = CreateDatabase,
                        Force = Force,
                        Tables = Table,
                        Schemas = Schema,
                        KeepPrevious = KeepPrevious,
                        Decryption = decryption,
                        CreateRoles = CreateRoles,
                        VerifyKey = verifier,
                        Options = new RestoreOptions
                        {
                            Jobs = Jobs,
                            NoOwner = NoOwner,
                            NoPrivileges = NoPrivileges,
                            ContinueOnError = ContinueOnError,
                            PgBinPath = PgBinPath is null ? null : ResolvePath(PgBinPath),
                        },
                    }, log, ct);
                });
                if (!ShouldProcessOrForce($"{plan.Target} on {plan.ServerName}", plan.Action, Force)) return;
                var result = Run((log, ct) => new RestoreEngine().Execute(plan, log, ct));
                foreach (var e in result.Errors)
                    WriteError(ToErrorRecord(new PgBackupException(ErrorIds.RestoreStatementFailed, ErrorKind.InvalidOperation, e, plan.Target)));
                WriteObject(result);
            }
            catch (PgBackupException e)
            {
                // Backups from the pipeline (a whole server: Get-PgBackup -Latest | Restore-PgBackup): each failure is
                // that backup's error and the next one is restored; a backup named by -Path stops the cmdlet.
                if (InputObject is not null) WriteError(ToErrorRecord(e, path));
                else Fail(e, path);
            }
            finally
            {
                plan?.Dispose();
            }
        }
    }
}
