using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>
    /// Invoke-PgBackupRetention: plans which backups to keep (restic's forget rules, per database and location, never
    /// the newest good backup, never counting incomplete ones), shows the plan and removes the rest.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "PgBackupRetention", DefaultParameterSetName = InputSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RetentionDecision))]
    public sealed class InvokePgBackupRetentionCommand : PgBackupVerifyingCmdlet
    {
        private const string InputSet = "InputObject";
        private const string PathSet = "Path";
        private readonly List<IRetentionCandidate> _input = new List<IRetentionCandidate>();

        /// <summary>Backups to plan over (Get-PgBackup or New-PgBackup objects, or anything with a time, group and identity).</summary>
        [Parameter(ParameterSetName = InputSet, Mandatory = true, ValueFromPipeline = true)]
        [AllowNull]
        public PSObject?[]? InputObject { get; set; }

        /// <summary>Plans over every backup of the piped backups' groups (same database, same folder), not only those piped.</summary>
        [Parameter(ParameterSetName = InputSet)]
        public SwitchParameter AllInGroup { get; set; }

        /// <summary>Folders whose backups are planned.</summary>
        [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = Array.Empty<string>();

        [Parameter(ParameterSetName = PathSet)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? Database { get; set; }

        [Parameter, ValidateRange(0, int.MaxValue)] public int KeepLast { get; set; }
        [Parameter, ValidateRange(0, int.MaxValue)] public int KeepHourly { get; set; }
        [Parameter, ValidateRange(0, int.MaxValue)] public int KeepDaily { get; set; }
        [Parameter, ValidateRange(0, int.MaxValue)] public int KeepWeekly { get; set; }
        [Parameter, ValidateRange(0, int.MaxValue)] public int KeepMonthly { get; set; }
        [Parameter, ValidateRange(0, int.MaxValue)] public int KeepYearly { get; set; }
        [Parameter] public TimeSpan KeepWithin { get; set; }

        /// <summary>The time zone periods are reckoned in (default: this machine's).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? TimeZone { get; set; }

        [Parameter] public SwitchParameter RemoveIncomplete { get; set; }

        private RetentionPolicy? _policy;

        protected override void BeginProcessing()
        {
            // Check the policy before any input is read: no rule is an error, not a guess.
            try
            {
                _policy = new RetentionPolicy
                {
                    Last = KeepLast,
                    Hourly = KeepHourly,
                    Daily = KeepDaily,
                    Weekly = KeepWeekly,
                    Monthly = KeepMonthly,
                    Yearly = KeepYearly,
                    Within = KeepWithin,
                    TimeZone = RetentionPolicy.FindTimeZone(TimeZone),
                    RemoveIncomplete = RemoveIncomplete,
                    Now = DateTime.UtcNow,
                };
                _policy.Validate();
            }
            catch (PgBackupException e)
            {
                Fail(e);
            }
        }

        protected override void ProcessRecord()
        {
            if (ParameterSetName != InputSet || InputObject is null) return;
            foreach (var item in InputObject)
            {
                if (item is null) continue;
                if (item.BaseObject is IRetentionCandidate candidate)
                {
                    _input.Add(candidate);
                    continue;
                }
                try
                {
                    _input.Add(GenericRetentionCandidate.From(item, name => Unwrap(item.Properties[name]?.Value)));
                }
                catch (PgBackupException e)
                {
                    // The plan must cover exactly what was given: an object that cannot be planned stops everything.
                    Fail(e, item);
                }
            }
        }

        protected override void EndProcessing()
        {
            var candidates = new List<IRetentionCandidate>();
            var verifier = Verifier();
            if (ParameterSetName == PathSet)
            {
                var patterns = Database?.Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToList();
                var options = StorageOptions();
                foreach (var p in Path)
                {
                    var location = ResolvePath(p);
                    if (!TryRun((log, ct) =>
                        {
                            using var store = StoreFactory.OpenLocation(location, options, create: false);
                            return BackupCatalog.List(store, log, ct, verifier);
                        }, location, out var backups))
                        continue;
                    candidates.AddRange(backups.Where(b => patterns is null || patterns.Any(w => w.IsMatch(b.Database))));
                }
            }
            else if (AllInGroup)
            {
                var notInFolder = _input.FirstOrDefault(c => c is not BackupInfo);
                if (notInFolder is not null)
                    Fail(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"-AllInGroup lists the folders of PgBackup backups (from New-PgBackup or Get-PgBackup); {notInFolder.Id} is not one. Nothing was removed.", notInFolder);
                var given = Verified(_input, verifier).Cast<BackupInfo>().ToList();
                try
                {
                    candidates.AddRange(Run((log, ct) => BackupCatalog.ListGroupsOf(given, log, ct, verifier)));
                }
                catch (PgBackupException e)
                {
                    Fail(e);
                }
                candidates.AddRange(given);
            }
            else
                candidates.AddRange(Verified(_input, verifier));
            foreach (var b in candidates.OfType<BackupInfo>().Where(b => b.Refusal is not null && b.SignatureValid != false))
                WriteWarning($"{b.Path} is incomplete: {b.Refusal!.Message}");
            // A backup that fails -VerifyKey could claim any time or database: planning with it could keep or remove the wrong ones.
            if (candidates.OfType<BackupInfo>().FirstOrDefault(b => b.SignatureValid == false) is { } refused)
                Fail(new PgBackupException(refused.Refusal!.ErrorId, ErrorKind.SecurityError, refused.Refusal.Message + " Retention removed nothing.", refused.Path));

            List<RetentionDecision> plan = null!;
            try
            {
                plan = RetentionPlanner.Plan(candidates, _policy!);
            }
            catch (PgBackupException e)
            {
                Fail(e);
            }
            WriteVerbose($"Retention ({_policy}): {plan.Count} backups in {plan.Select(d => d.Group).Distinct().Count()} groups; " +
                         $"{plan.Count(d => d.Action == RetentionAction.Keep)} kept, {plan.Count(d => d.Action == RetentionAction.Remove)} to remove.");

            foreach (var decision in plan)
            {
                if (decision.Action == RetentionAction.Remove &&
                    ShouldProcess(decision.Id, $"Remove backup ({decision.Group}, taken {decision.Time.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)}Z{(decision.IsGood ? "" : ", incomplete")})"))
                {
                    decision.Removed = TryRun((log, ct) => { decision.Candidate.Remove(log, ct); return true; }, decision.Backup, out _);
                }
                WriteObject(decision);
            }
        }

        /// <summary>With -VerifyKey, the piped backups read again and their signatures checked; other candidates as they are.</summary>
        private List<IRetentionCandidate> Verified(List<IRetentionCandidate> input, SignatureVerifier? verifier)
        {
            if (verifier is null) return input;
            try
            {
                return Run((log, ct) => input.Select(c => c is BackupInfo b ? BackupCatalog.GetAt(b.Path, b.StoreOptions, log, ct, verifier) : c).ToList());
            }
            catch (PgBackupException e)
            {
                Fail(e);
                return input;
            }
        }

        private static object? Unwrap(object? value) => value is PSObject p ? p.BaseObject : value;
    }
}
