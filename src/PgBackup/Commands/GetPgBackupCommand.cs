using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace PgBackup.Commands
{
    /// <summary>Get-PgBackup: lists backups newest first, with their status and age; checks freshness.</summary>
    [Cmdlet(VerbsCommon.Get, "PgBackup", DefaultParameterSetName = "Path")]
    [OutputType(typeof(BackupInfo))]
    public sealed class GetPgBackupCommand : PgBackupVerifyingCmdlet
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Location")]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; } = { "backups" };

        [Parameter]
        [SupportsWildcards]
        public string[]? Database { get; set; }

        /// <summary>Only the newest good backup of each database.</summary>
        [Parameter] public SwitchParameter Latest { get; set; }

        [Parameter] public DateTime? Since { get; set; }

        [Parameter] public DateTime? Before { get; set; }

        /// <summary>Writes an error for each database whose newest good backup is older than this.</summary>
        [Parameter] public TimeSpan? MaxAge { get; set; }

        /// <summary>Also lists incomplete backups when -Latest is used.</summary>
        [Parameter] public SwitchParameter IncludeIncomplete { get; set; }

        /// <summary>With -MaxAge: a server (any of its databases) whose databases must all have a fresh backup, also those never backed up.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConnectionString { get; set; }

        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>The server's databases (read once), for -MaxAge -ConnectionString.</summary>
        private List<string>? _serverDatabases;
        private string? _serverName;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            if (ConnectionString is null && !Given(nameof(Credential))) return;
            if (!MaxAge.HasValue)
                Fail(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, "-ConnectionString and -Credential are used with -MaxAge: the server's databases are checked for fresh backups.");
            try
            {
                (_serverName, _serverDatabases) = Run((log, ct) =>
                {
                    var connection = ResolveConnection(ConnectionString, Credential, log).WithoutNeonPooler(out _);
                    using var server = PgServer.Connect(connection, new Redactor(connection.Secrets()), ct);
                    return (server.Info.Server, server.DatabaseNames(ct));
                });
            }
            catch (PgBackupException e)
            {
                Fail(e);
            }
        }

        protected override void ProcessRecord()
        {
            var options = StorageOptions();
            var verifier = Verifier();
            foreach (var p in Path)
            {
                var location = ResolvePath(p);
                if (!TryRun((log, ct) =>
                    {
                        using var store = StoreFactory.OpenLocation(location, options, create: false);
                        if (store is S3Store s3) log.Verbose($"Listing {store.Location} at {s3.Endpoint}.");
                        if (store is AzureStore az) log.Verbose($"Listing {store.Location} at {az.Endpoint}.");
                        return BackupCatalog.List(store, log, ct, verifier);
                    }, location, out var backups))
                    continue;
                Emit(backups, location);
            }
        }

        private void Emit(List<BackupInfo> backups, string location)
        {
            IEnumerable<BackupInfo> selected = backups;
            if (Database is { Length: > 0 })
            {
                var patterns = Database.Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToList();
                selected = selected.Where(b => patterns.Any(w => w.IsMatch(b.Database)));
            }
            if (Since.HasValue) selected = selected.Where(b => b.StartTime >= Since.Value.ToUniversalTime());
            if (Before.HasValue) selected = selected.Where(b => b.StartTime < Before.Value.ToUniversalTime());
            var list = selected.ToList();
            // A backup that readers refuse (its manifest unreadable or naming what it may not; with -VerifyKey, its
            // signature failed) is an error with that id; it is still listed (Incomplete, or SignatureValid false) and
            // never counts as good (-Latest, -MaxAge).
            foreach (var b in list.Where(b => b.Refusal is not null)) WriteError(ToErrorRecord(b.Refusal!, b));

            if (MaxAge.HasValue)
            {
                foreach (var group in list.GroupBy(b => b.Database))
                {
                    var newest = group.Where(b => b.IsGood).OrderByDescending(b => b.StartTime).FirstOrDefault();
                    if (newest is null || newest.Age > MaxAge.Value)
                        WriteError(ToErrorRecord(new PgBackupException(ErrorIds.BackupStale, ErrorKind.InvalidData,
                            newest is null
                                ? $"There is no good backup of '{group.Key}' in {location}."
                                : $"The newest good backup of '{group.Key}' in {location} is {FormatAge(newest.Age)} old (allowed: {FormatAge(MaxAge.Value)}): {newest.Name}.",
                            group.Key)
                        { RecommendedAction = "Check that the scheduled backup job runs and succeeds." }));
                }
                // Databases of the server (-ConnectionString) with no backup at all here: a database created after the
                // job was written, or one the job leaves out.
                if (_serverDatabases is not null)
                {
                    var backedUp = new HashSet<string>(list.Select(b => b.Database), StringComparer.Ordinal);
                    var patterns = (Database ?? Array.Empty<string>()).Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToList();
                    foreach (var db in _serverDatabases.Where(d => !backedUp.Contains(d) && (patterns.Count == 0 || patterns.Any(w => w.IsMatch(d)))))
                        WriteError(ToErrorRecord(new PgBackupException(ErrorIds.BackupStale, ErrorKind.InvalidData,
                            $"The database {ServerBackup.Printable(db)} on {_serverName} has never been backed up in {location}.", db)
                        { RecommendedAction = "Back up every database of the server (New-PgBackup -AllDatabases), or leave this one out of the check (-Database)." }));
                }
                else if (Database is { Length: > 0 } && list.Count == 0)
                    foreach (var d in Database.Where(d => !WildcardPattern.ContainsWildcardCharacters(d)))
                        WriteError(ToErrorRecord(new PgBackupException(ErrorIds.BackupStale, ErrorKind.InvalidData, $"There is no backup of '{d}' in {location}.", d)));
            }

            if (Latest)
                list = list.GroupBy(b => b.Database)
                    .Select(g => g.Where(b => b.IsGood || IncludeIncomplete).OrderByDescending(b => b.StartTime).FirstOrDefault())
                    .Where(b => b is not null).Select(b => b!)
                    .OrderByDescending(b => b.StartTime).ToList();
            foreach (var b in list) WriteObject(b);
        }

        private static string FormatAge(TimeSpan t) =>
            t.TotalDays >= 1 ? $"{(int)t.TotalDays}d {t.Hours}h {t.Minutes}m" : t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes}m" : $"{(int)t.TotalMinutes}m {t.Seconds}s";
    }
}
