using System;
using System.Management.Automation;
using System.Security;
using System.Threading;

namespace PgBackup.Commands
{
    /// <summary>
    /// The base of the Neon branch cmdlets: the API key (SecureString, else NEON_API_KEY from the environment or
    /// .env), the API URL, and the project (-ProjectId, else NEON_PROJECT_ID, else found from DATABASE_URL's host).
    /// </summary>
    public abstract class NeonCmdlet : PgBackupCmdlet
    {
        /// <summary>A Neon API key; else $env:NEON_API_KEY, else NEON_API_KEY in .env.</summary>
        [Parameter]
        [ValidateNotNull]
        public SecureString? ApiKey { get; set; }

        /// <summary>The Neon project id; else $env:NEON_PROJECT_ID (or .env), else found from the connection string's host.</summary>
        [Parameter]
        [ValidatePattern("^[a-z0-9-]{1,60}$")]
        public string? ProjectId { get; set; }

        /// <summary>The API's base URL; else $env:NEON_API_URL (or .env), else https://console.neon.tech/api/v2.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ApiUrl { get; set; }

        /// <summary>A Neon connection string to find the project from; else $env:DATABASE_URL, else DATABASE_URL in .env.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConnectionString { get; set; }

        /// <summary>How often one request is retried after 423, 429, 502-504 or a network failure before the cmdlet gives up.</summary>
        [Parameter]
        [ValidateRange(0, 100)]
        public int MaxRetries { get; set; } = NeonOptions.DefaultMaxRetries;

        /// <summary>Seconds to wait for Neon's operations (subclasses that wait expose it as -Timeout).</summary>
        protected virtual int TimeoutSeconds => 300;

        /// <summary>
        /// The poll interval and first retry delay for the test suite only, null in the product. Neon.Tests.ps1 runs
        /// the cmdlets against a local fake of the API whose operations take 150 ms; at Neon's pace (a poll a second,
        /// retries from a second on) the file takes 110 s instead of 23 s per build. Not a parameter and not an
        /// environment variable, so nothing a user can set, by chance or not: an internal property that the tests set
        /// by reflection (as PowerShell's own tests set its InternalTestHooks), in their own process.
        /// </summary>
        internal static TimeSpan? TestWaits { get; set; }

        private NeonOptions? _options;
        private NeonProjectRef? _project;

        protected bool HasExplicitApi => ApiKey is not null || ApiUrl is not null;

        /// <summary>The API options (resolved once per invocation); terminating error when there is no key.</summary>
        protected NeonOptions Options
        {
            get
            {
                if (_options is null)
                {
                    string? key = Plain(ApiKey);
                    try
                    {
                        _options = Run((log, ct) => NeonOptions.Resolve(key, ApiUrl, CurrentFolder, TimeSpan.FromSeconds(TimeoutSeconds), MaxRetries, log));
                        if (TestWaits is TimeSpan waits) _options = _options.With(pollInterval: waits, retryBaseDelay: waits);
                    }
                    catch (PgBackupException e) { Fail(e); }
                }
                return _options!;
            }
        }

        /// <summary>
        /// The options for work on a branch that was listed: the API it was listed with (URL and key) unless -ApiKey or
        /// -ApiUrl is given, with this invocation's -Timeout and -MaxRetries.
        /// </summary>
        protected NeonOptions OptionsFor(NeonBackupBranch branch) =>
            !HasExplicitApi && branch.Options is not null ? branch.Options.With(TimeSpan.FromSeconds(TimeoutSeconds), MaxRetries) : Options;

        /// <summary>The project (resolved once per invocation); terminating error when it cannot be found.</summary>
        protected NeonProjectRef Project
        {
            get
            {
                if (_project is null)
                {
                    var options = Options;
                    try
                    {
                        _project = Run((log, ct) =>
                        {
                            var id = ResolvedSetting.Resolve(ProjectId, "-ProjectId", NeonOptions.ProjectIdVariable, CurrentFolder);
                            var conn = id is null ? ResolvedSetting.Resolve(ConnectionString, "-ConnectionString", "DATABASE_URL", CurrentFolder) : null;
                            using var manager = new NeonBackupManager(options, log);
                            return manager.ResolveProject(id, conn, ct);
                        });
                    }
                    catch (PgBackupException e) { Fail(e); }
                }
                return _project!;
            }
        }

        /// <summary>Runs work with a manager over <paramref name="options"/> (the invocation's when null).</summary>
        protected T WithManager<T>(Func<NeonBackupManager, CancellationToken, T> work, NeonOptions? options = null) =>
            Run((log, ct) =>
            {
                using var manager = new NeonBackupManager(options ?? Options, log);
                return work(manager, ct);
            });

        protected bool TryWithManager<T>(Func<NeonBackupManager, CancellationToken, T> work, object? target, out T result, NeonOptions? options = null)
        {
            var o = options ?? Options;
            return TryRun((log, ct) =>
            {
                using var manager = new NeonBackupManager(o, log);
                return work(manager, ct);
            }, target, out result);
        }
    }
}
