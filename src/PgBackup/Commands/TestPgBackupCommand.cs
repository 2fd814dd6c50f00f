using System.Collections.Generic;
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

        /// <summary>
        /// How many backups are checked (and drilled) at a time; above 1 the backups from the pipeline are collected
        /// and checked at its end, and the results come in the order they finish.
        /// </summary>
        [Parameter]
        [ValidateRange(1, Throttle.MaxLimit)]
        public int ThrottleLimit { get; set; } = 1;

        private readonly List<(string Path, StoreOptions Options)> _pending = new List<(string, StoreOptions)>();

        protected override void ProcessRecord()
        {
            if (InputObject is not null) { Test(InputObject.Path, StorageOptionsFor(InputObject)); return; }
            var options = StorageOptions();
            foreach (var p in Path) Test(ResolvePath(p), options);
        }

        protected override void EndProcessing()
        {
            if (_pending.Count == 0) return;
            var connection = Connection(_pending[0].Path);
            using var decryption = DecryptionFromParameters();
            var verifier = Verifier();
            Run((log, emit, ct) => Throttle.ForEach(_pending, ThrottleLimit, (item, slot) =>
            {
                try
                {
                    var (result, failure) = BackupTester.Run(Request(item.Path, item.Options, connection, decryption, verifier),
                        new ItemLog(log, System.IO.Path.GetFileName(item.Path.TrimEnd('/', '\\')), slot), ct);
                    emit((item.Path, (TestResult?)result, failure));
                }
                catch (PgBackupException e)
                {
                    emit((item.Path, (TestResult?)null, (PgBackupException?)e));
                }
            }, ct), item =>
            {
                var (path, result, failure) = ((string, TestResult?, PgBackupException?))item;
                if (result is not null) WriteObject(result);
                if (failure is not null) WriteError(ToErrorRecord(failure, path));
            });
        }

        private PgConnectionInfo? Connection(string path)
        {
            if (!Restore) return null;
            try { return Run((log, ct) => ResolveConnection(ConnectionString, Credential, log)); }
            catch (PgBackupException e) { Fail(e, path); return null; }
        }

        private TestRequest Request(string path, StoreOptions storeOptions, PgConnectionInfo? connection, DecryptionSettings decryption, SignatureVerifier? verifier) => new TestRequest
        {
            BackupPath = path,
            StoreOptions = storeOptions,
            Restore = Restore,
            Keep = Keep,
            Connection = connection,
            Decryption = decryption,
            VerifyKey = verifier,
            Options = new RestoreOptions
            {
                Jobs = Jobs,
                NoOwner = NoOwner,
                NoPrivileges = NoPrivileges,
                PgBinPath = PgBinPath is null ? null : ResolvePath(PgBinPath),
            },
        };

        private void Test(string path, StoreOptions storeOptions)
        {
            if (ThrottleLimit > 1) { _pending.Add((path, storeOptions)); return; }
            var connection = Connection(path);
            using var decryption = DecryptionFromParameters();
            var verifier = Verifier();
            var (result, failure) = Run((log, ct) => BackupTester.Run(Request(path, storeOptions, connection, decryption, verifier), log, ct));
            WriteObject(result);
            if (failure is not null) WriteError(ToErrorRecord(failure, path));
        }
    }
}
