using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// Neon branch backups: what New-, Get-, Remove- and Restore-NeonBackupBranch do, over <see cref="NeonClient"/>.
    /// Synchronous (the cmdlets call it on a worker thread); every wait honours the cancellation token.
    /// </summary>
    public sealed class NeonBackupManager : IDisposable
    {
        /// <summary>How backup branches are named: <c>backup_yyyyMMdd_HHmmss</c> (UTC), as the guide's script names them.</summary>
        public static readonly Regex BackupNamePattern = new Regex(@"^backup_\d{8}_\d{6}$", RegexOptions.CultureInvariant);
        public static readonly TimeSpan MaxExpiry = TimeSpan.FromDays(30);

        private readonly NeonClient _client;
        private readonly IOperationLog _log;

        public NeonBackupManager(NeonOptions options, IOperationLog log) : this(options, log, null) { }

        internal NeonBackupManager(NeonOptions options, IOperationLog log, HttpMessageHandler? handler)
        {
            _client = new NeonClient(options, log, handler);
            _log = log;
        }

        public NeonOptions Options => _client.Options;
        internal NeonClient Client => _client;

        public void Dispose() => _client.Dispose();

        private static T Sync<T>(Task<T> task) => task.GetAwaiter().GetResult();
        private static void Sync(Task task) => task.GetAwaiter().GetResult();

        public static string BackupName(DateTime utc) => "backup_" + utc.ToUniversalTime().ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);

        // ---- The project ----

        /// <summary>
        /// The project: <paramref name="projectId"/> (from -ProjectId, NEON_PROJECT_ID or .env) when given; else the
        /// project one of whose endpoints is the host of <paramref name="connectionString"/> (DATABASE_URL), found by
        /// listing the projects the key can see (its own, then its organizations') and their endpoints.
        /// </summary>
        public NeonProjectRef ResolveProject(ResolvedSetting? projectId, ResolvedSetting? connectionString, CancellationToken ct)
        {
            if (projectId is not null)
            {
                _log.Verbose($"Neon project {projectId.Value} (from {projectId.Source}).");
                return new NeonProjectRef { ProjectId = projectId.Value.Trim(), Source = projectId.Source };
            }
            if (connectionString is null)
                throw new PgBackupException(ErrorIds.NeonProjectNotFound, ErrorKind.InvalidArgument,
                    "No Neon project: give -ProjectId, set $env:NEON_PROJECT_ID, or give a Neon connection string (-ConnectionString or DATABASE_URL) to find it from.")
                { RecommendedAction = "The project id is in the Neon Console under Settings, or in the URL: console.neon.tech/app/projects/<project id>." };
            var info = PgConnectionInfo.Parse(connectionString.Value);
            var endpointId = EndpointIdOf(info)
                ?? throw new PgBackupException(ErrorIds.NeonProjectNotFound, ErrorKind.InvalidArgument,
                    $"The host '{info.Host}' of the connection string from {connectionString.Source} is not a Neon endpoint host (ep-...), so the Neon project cannot be found from it.")
                { RecommendedAction = "Give -ProjectId or set $env:NEON_PROJECT_ID." };
            string? region = RegionOf(info.Host ?? "");
            _log.Verbose($"Looking for the Neon project of endpoint {endpointId} (from the host of {connectionString.Source}).");
            return Sync(FindProjectByEndpointAsync(endpointId, region, connectionString.Source, ct));
        }

        /// <summary>
        /// The endpoint id a connection string points at: the host's first label without <c>-pooler</c>
        /// (<c>ep-x-123.us-east-2.aws.neon.tech</c>, <c>ep-x-123-pooler.c-2.us-east-2.aws.neon.tech</c>), or Neon's
        /// <c>options=endpoint=ep-...</c> for clients without SNI. Null when it is not a Neon host.
        /// </summary>
        public static string? EndpointIdOf(PgConnectionInfo info)
        {
            var options = info.Get("options");
            if (options is not null)
            {
                var m = Regex.Match(options, @"(?:^|\s|-c\s*)endpoint=(ep-[a-z0-9-]+)", RegexOptions.IgnoreCase);
                if (m.Success) return m.Groups[1].Value.ToLowerInvariant();
            }
            var host = (info.Host ?? "").Split(',')[0].Trim().ToLowerInvariant();
            return EndpointIdOfHost(host);
        }

        public static string? EndpointIdOfHost(string host)
        {
            var first = host.Split('.')[0];
            if (!first.StartsWith("ep-", StringComparison.Ordinal)) return null;
            if (first.EndsWith("-pooler", StringComparison.Ordinal)) first = first.Substring(0, first.Length - "-pooler".Length);
            return first.Length > 3 ? first : null;
        }

        /// <summary>The region id (<c>aws-us-east-2</c>) in a Neon host name, to look at that region's projects first.</summary>
        internal static string? RegionOf(string host)
        {
            var labels = host.ToLowerInvariant().Split('.').ToList();
            int neon = labels.IndexOf("neon");
            if (neon < 3) return null;
            var provider = labels[neon - 1];
            var region = labels[neon - 2];
            return provider + "-" + region;
        }

        private static bool EndpointMatches(NeonEndpointJson e, string endpointId) =>
            string.Equals(e.Id, endpointId, StringComparison.OrdinalIgnoreCase) ||
            // a compute's own host within an endpoint group: ep-x-123-<binding>.c-2...
            endpointId.StartsWith(e.Id + "-", StringComparison.OrdinalIgnoreCase) ||
            (e.Host is not null && string.Equals(EndpointIdOfHost(e.Host.ToLowerInvariant()), endpointId, StringComparison.OrdinalIgnoreCase));

        private async Task<NeonProjectRef> FindProjectByEndpointAsync(string endpointId, string? region, string source, CancellationToken ct)
        {
            NeonProjectRef? found = null;
            int searched = 0;
            var checkedIds = new HashSet<string>(StringComparer.Ordinal);

            bool SearchPage(List<NeonProjectJson> page)
            {
                // Projects in the host's region first: usually the first one looked at is the one.
                foreach (var p in page.OrderBy(p => region is not null && string.Equals(p.RegionId, region, StringComparison.OrdinalIgnoreCase) ? 0 : 1))
                {
                    if (!checkedIds.Add(p.Id)) continue;
                    searched++;
                    var endpoints = Sync(_client.ListEndpointsAsync(p.Id, ct));
                    var match = endpoints.FirstOrDefault(e => EndpointMatches(e, endpointId));
                    if (match is not null)
                    {
                        found = new NeonProjectRef { ProjectId = p.Id, Name = p.Name, Source = source, EndpointId = match.Id, EndpointBranchId = match.BranchId };
                        return true;
                    }
                }
                return false;
            }

            await _client.ListProjectsAsync(null, SearchPage, ct).ConfigureAwait(false);
            if (found is null)
            {
                // A personal key sees organization projects only by organization.
                List<NeonOrganizationJson> orgs;
                try { orgs = await _client.ListOrganizationsAsync(ct).ConfigureAwait(false); }
                catch (NeonApiException e) when (e.StatusCode is 403 or 404 or 400)
                {
                    _log.Verbose($"No organizations listed ({e.StatusCode}).");
                    orgs = new List<NeonOrganizationJson>();
                }
                foreach (var org in orgs)
                {
                    if (found is not null) break;
                    await _client.ListProjectsAsync(org.Id, SearchPage, ct).ConfigureAwait(false);
                }
            }
            if (found is null)
                throw new PgBackupException(ErrorIds.NeonProjectNotFound, ErrorKind.ObjectNotFound,
                    $"None of the {searched} Neon project(s) this API key can see has the endpoint {endpointId} (from the host of {source}).")
                { RecommendedAction = "Check that the API key belongs to the account or organization that owns the database, or give -ProjectId." };
            _log.Verbose($"Neon project {found.ProjectId} ({found.Name}) has endpoint {endpointId} on branch {found.EndpointBranchId}.");
            return found;
        }

        // ---- Branches ----

        /// <summary>Every branch of the project (all pages), as output objects that know how to remove themselves.</summary>
        public List<NeonBackupBranch> ListBranches(string projectId, CancellationToken ct)
        {
            var all = Sync(_client.ListBranchesAsync(projectId, ct));
            return ToOutput(all, all);
        }

        private List<NeonBackupBranch> ToOutput(IEnumerable<NeonBranchJson> branches, List<NeonBranchJson> all)
        {
            var names = all.GroupBy(b => b.Id).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal);
            return branches
                .Select(b => NeonBackupBranch.From(b, b.ParentId is not null && names.TryGetValue(b.ParentId, out var n) ? n : null, Options))
                .OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Name, StringComparer.Ordinal)
                .ToList();
        }

        /// <summary>The project's backup branches (names matching <paramref name="isBackup"/>), newest first.</summary>
        public List<NeonBackupBranch> ListBackups(string projectId, Func<string, bool>? isBackup, CancellationToken ct)
        {
            isBackup ??= n => BackupNamePattern.IsMatch(n);
            var all = Sync(_client.ListBranchesAsync(projectId, ct));
            return ToOutput(all.Where(b => isBackup(b.Name)), all);
        }

        /// <summary>A branch by id or, failing that, by name; NeonNotFound when there is none.</summary>
        internal static NeonBranchJson Find(List<NeonBranchJson> all, string nameOrId, string projectId)
        {
            var b = all.FirstOrDefault(x => string.Equals(x.Id, nameOrId, StringComparison.Ordinal))
                ?? all.FirstOrDefault(x => string.Equals(x.Name, nameOrId, StringComparison.Ordinal))
                ?? all.FirstOrDefault(x => string.Equals(x.Name, nameOrId, StringComparison.OrdinalIgnoreCase));
            return b ?? throw new PgBackupException(ErrorIds.NeonNotFound, ErrorKind.ObjectNotFound,
                $"Project {projectId} has no branch named or with the id '{nameOrId}'.", nameOrId);
        }

        internal static NeonBranchJson DefaultOf(List<NeonBranchJson> all, string projectId) =>
            all.FirstOrDefault(b => b.Default) ?? all.FirstOrDefault(b => b.IsDefault)
            ?? throw new PgBackupException(ErrorIds.NeonNotFound, ErrorKind.ObjectNotFound, $"Project {projectId} has no default branch.", projectId);

        public NeonBackupBranch FindBranch(string projectId, string nameOrId, CancellationToken ct)
        {
            var all = Sync(_client.ListBranchesAsync(projectId, ct));
            return ToOutput(new[] { Find(all, nameOrId, projectId) }, all)[0];
        }

        /// <summary>Checks -ExpiresAt as Neon does: in the future and at most 30 days ahead.</summary>
        public static DateTime ValidateExpiry(DateTime expiresAt, DateTime nowUtc)
        {
            var utc = expiresAt.Kind == DateTimeKind.Unspecified ? expiresAt.ToUniversalTime() : expiresAt.ToUniversalTime();
            // Neon keeps second precision.
            utc = new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
            if (utc <= nowUtc)
                throw new PgBackupException(ErrorIds.NeonInvalidExpiry, ErrorKind.InvalidArgument,
                    $"-ExpiresAt {NeonJson.FormatTime(utc)} is not in the future.", expiresAt);
            if (utc > nowUtc + MaxExpiry)
                throw new PgBackupException(ErrorIds.NeonInvalidExpiry, ErrorKind.InvalidArgument,
                    $"-ExpiresAt {NeonJson.FormatTime(utc)} is more than 30 days ahead; Neon allows at most 30 days.", expiresAt);
            return utc;
        }

        /// <summary>
        /// Creates a backup branch of <paramref name="parent"/> (name or id; the default branch when null) without a
        /// compute endpoint, waits for Neon's operations, and returns it as Neon reports it then.
        /// </summary>
        public NeonBackupBranch CreateBackup(NeonProjectRef project, string? parent, string? name, DateTime? expiresAt, CancellationToken ct)
        {
            var now = DateTime.UtcNow;
            DateTime? expiry = expiresAt.HasValue ? ValidateExpiry(expiresAt.Value, now) : (DateTime?)null;
            var all = Sync(_client.ListBranchesAsync(project.ProjectId, ct));
            var parentBranch = parent is null ? DefaultOf(all, project.ProjectId) : Find(all, parent, project.ProjectId);
            if (parent is null && project.EndpointBranchId is not null && project.EndpointBranchId != parentBranch.Id)
            {
                var other = all.FirstOrDefault(b => b.Id == project.EndpointBranchId);
                _log.Warning($"The connection string points at branch '{other?.Name ?? project.EndpointBranchId}', not at the default branch '{parentBranch.Name}'; backing up '{parentBranch.Name}'. Use -ParentBranch to back up the other.");
            }
            name ??= BackupName(now);
            _log.Verbose($"Creating branch '{name}' from '{parentBranch.Name}' ({parentBranch.Id}) in project {project.ProjectId}" +
                (expiry.HasValue ? $", expiring {NeonJson.FormatTime(expiry.Value)}." : "."));
            NeonBranchOperationsBody created;
            int retriesBefore = _client.RetryCount;
            try
            {
                created = Sync(_client.CreateBranchAsync(project.ProjectId, parentBranch.Id, name, expiry, ct));
            }
            catch (NeonApiException e) when (e.ErrorId == ErrorIds.NeonBranchExists)
            {
                // A retried request (after a 503 or a lost answer) may have created the branch the first time.
                var adopted = _client.RetryCount > retriesBefore ? AdoptRetriedCreate(project.ProjectId, parentBranch.Id, name, now, ct) : null;
                if (adopted is not null)
                {
                    all.Add(adopted);
                    return ToOutput(new[] { adopted }, all)[0];
                }
                throw new PgBackupException(ErrorIds.NeonBranchExists, ErrorKind.ResourceExists,
                    $"Project {project.ProjectId} already has a branch named '{name}'. ({e.Message})", name, e)
                { RecommendedAction = "Backups are named by the second: wait a second and try again, or give another -Name." };
            }
            var branch = created.Branch ?? throw new PgBackupException(ErrorIds.NeonRequestFailed, ErrorKind.InvalidData, "Neon's answer to the branch creation has no branch.");
            Sync(_client.WaitForOperationsAsync(project.ProjectId, created.Operations, $"creating branch '{name}'", ct));
            var now2 = Sync(_client.GetBranchAsync(project.ProjectId, branch.Id, ct));
            all.Add(now2);
            return ToOutput(new[] { now2 }, all)[0];
        }

        /// <summary>
        /// The branch a retried create made the first time: same name and parent, created since this backup began.
        /// Waits (polling the branch; its operations' ids were in the lost answer) until it is ready.
        /// </summary>
        private NeonBranchJson? AdoptRetriedCreate(string projectId, string parentId, string name, DateTime started, CancellationToken ct)
        {
            var all = Sync(_client.ListBranchesAsync(projectId, ct));
            var b = all.FirstOrDefault(x => x.Name == name);
            if (b is null || b.ParentId != parentId || (b.CreatedAt ?? DateTime.MinValue) < started.AddSeconds(-5)) return null;
            _log.Verbose($"Branch '{name}' ({b.Id}) was created by an earlier attempt whose answer was lost; waiting until it is ready.");
            var watch = Stopwatch.StartNew();
            while (!(b.CurrentState == "ready" && string.IsNullOrEmpty(b.PendingState)))
            {
                if (watch.Elapsed >= Options.OperationTimeout)
                    throw new PgBackupException(ErrorIds.NeonOperationTimeout, ErrorKind.OperationTimeout,
                        $"Branch '{name}' ({b.Id}) did not become ready within {Options.OperationTimeout.TotalSeconds:0} s.", b.Id);
                Sync(Task.Delay(Options.PollInterval, ct));
                b = Sync(_client.GetBranchAsync(projectId, b.Id, ct));
            }
            return b;
        }

        /// <summary>Deletes a branch and waits for Neon's operations. Neon's refusals become NeonDeleteRefused.</summary>
        public void Remove(NeonBackupBranch branch, CancellationToken ct)
        {
            NeonBranchOperationsBody? body;
            try
            {
                body = Sync(_client.DeleteBranchAsync(branch.ProjectId, branch.Id, ct));
            }
            catch (NeonApiException e) when (e.StatusCode is 400 or 403 or 409 or 412 or 422)
            {
                var why = branch.IsDefault ? " It is the project's default branch."
                    : branch.IsProtected ? " It is a protected branch." : "";
                throw new PgBackupException(ErrorIds.NeonDeleteRefused, ErrorKind.InvalidOperation,
                    $"Neon refused to delete branch '{branch.Name}' ({branch.Id}).{why} {e.Message}", branch, e)
                { RecommendedAction = "Neon does not delete the default branch, a protected branch, or a branch with child branches: delete the children first." };
            }
            if (body is null)
            {
                _log.Verbose($"Branch '{branch.Name}' ({branch.Id}) was already gone.");
                return;
            }
            Sync(_client.WaitForOperationsAsync(branch.ProjectId, body.Operations, $"deleting branch '{branch.Name}'", ct));
            _log.Verbose($"Deleted branch '{branch.Name}' ({branch.Id}) of project {branch.ProjectId}.");
        }

        /// <summary>
        /// Restores <paramref name="target"/> (name or id; the default branch when null) from the backup branch
        /// <paramref name="source"/> with Neon's restore call: the target keeps its id, name and endpoint; its
        /// previous state (and its children) go to a new branch named <paramref name="preserveUnderName"/>.
        /// </summary>
        public NeonRestoreResult Restore(NeonProjectRef project, string source, string? target, string? preserveUnderName, CancellationToken ct)
        {
            var watch = Stopwatch.StartNew();
            var now = DateTime.UtcNow;
            var all = Sync(_client.ListBranchesAsync(project.ProjectId, ct));
            var sourceBranch = Find(all, source, project.ProjectId);
            var targetBranch = target is null ? DefaultOf(all, project.ProjectId) : Find(all, target, project.ProjectId);
            if (sourceBranch.Id == targetBranch.Id)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"The backup branch and the target are the same branch ('{targetBranch.Name}').", source);
            var preserve = string.IsNullOrEmpty(preserveUnderName)
                ? targetBranch.Name + "_old_" + now.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture)
                : preserveUnderName!;
            if (all.Any(b => string.Equals(b.Name, preserve, StringComparison.Ordinal)))
                throw new PgBackupException(ErrorIds.NeonBranchExists, ErrorKind.ResourceExists,
                    $"Project {project.ProjectId} already has a branch named '{preserve}' to keep the target's current state under.", preserve)
                { RecommendedAction = "Give another -PreserveUnderName." };
            _log.Verbose($"Restoring '{targetBranch.Name}' ({targetBranch.Id}) from '{sourceBranch.Name}' ({sourceBranch.Id}); its current state is kept as '{preserve}'.");
            NeonBranchOperationsBody body;
            try
            {
                body = Sync(_client.RestoreBranchAsync(project.ProjectId, targetBranch.Id, sourceBranch.Id, preserve, ct));
            }
            catch (NeonApiException e) when (e.ErrorId == ErrorIds.NeonBranchExists)
            {
                throw new PgBackupException(ErrorIds.NeonBranchExists, ErrorKind.ResourceExists,
                    $"Neon refused the restore because a branch named '{preserve}' exists. ({e.Message})", preserve, e);
            }
            Sync(_client.WaitForOperationsAsync(project.ProjectId, body.Operations, $"restoring '{targetBranch.Name}' from '{sourceBranch.Name}'", ct));
            var after = Sync(_client.ListBranchesAsync(project.ProjectId, ct));
            var preserved = after.FirstOrDefault(b => string.Equals(b.Name, preserve, StringComparison.Ordinal));
            if (preserved is null) _log.Warning($"Neon did not list a branch named '{preserve}' after the restore.");
            return new NeonRestoreResult
            {
                ProjectId = project.ProjectId,
                TargetBranchId = targetBranch.Id,
                TargetBranchName = targetBranch.Name,
                SourceBranchId = sourceBranch.Id,
                SourceBranchName = sourceBranch.Name,
                PreservedBranchId = preserved?.Id,
                PreservedBranchName = preserve,
                RestoredAt = now,
                Duration = watch.Elapsed,
            };
        }
    }
}
