using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Test-PgBackup: checks backups' integrity and, with -Restore, runs a restore drill.</summary>
    [Cmdlet(VerbsDiagnostic.Test, "PgBackup", DefaultParameterSetName = "InputObject")]
    [OutputType(typeof(TestResult))]
    public sealed class TestPgBackupCommand : PgBackupRestoringCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = System.Array.Empty<string>();

        /// <summary>Run the drill: restore into a scratch database, compare, drop.</summary>
        [Parameter] public SwitchParameter Restore { get; set; }

        [Parameter] public SwitchParameter Keep { get; set; }

        [Parameter] public SwitchParameter NoOwner { get; set; }
        [Parameter] public SwitchParameter NoPrivileges { get; set; }

        [Parameter]
        [ValidateRange(1, 64)]
        public int Jobs { get; set; } = 1;

        protected override void ProcessRecord()
        {
            if (InputObject is not null) { Test(InputObject.Path, StorageOptionsFor(InputObject)); return; }
            var options = StorageOptions();
            foreach (var p in Path) Test(ResolvePath(p), options);
        }

        private void Test(string path, StoreOptions storeOptions)
        {
            PgConnectionInfo? connection = null;
            if (Restore)
            {
                try { connection = Run((log, ct) => ResolveConnection(ConnectionString, Credential, log)); }
                catch (PgBackupException e) { Fail(e, path); }
            }
            using var decryption = DecryptionFromParameters();
            var (result, failure) = Run((log, ct) => BackupTester.Run(new TestRequest
            {
                BackupPath = path,
                StoreOptions = storeOptions,
                Restore = Restore,
                Keep = Keep,
                Connection = connection,
                Decryption = decryption,
                VerifyKey = Verifier(),
                Options = new RestoreOptions
                {
                    Jobs = Jobs,
                    NoOwner = NoOwner,
                    NoPrivileges = NoPrivileges,
                    PgBinPath = PgBinPath is null ? null : ResolvePath(PgBinPath),
                },
            }, log, ct));
            WriteObject(result);
            if (failure is not null) WriteError(ToErrorRecord(failure, path));
        }
    }
}
