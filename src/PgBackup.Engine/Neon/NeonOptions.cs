using System;

namespace PgBackup
{
    /// <summary>
    /// How to reach the Neon API: its base URL, the API key (kept internal: never shown, never serialized) and the
    /// timing of polls and retries. The timings come from Neon's own SDK (poll every second, give up after 300 s); the
    /// tests, against a local fake, set shorter ones here.
    /// </summary>
    public sealed class NeonOptions
    {
        public const string DefaultApiUrl = "https://console.neon.tech/api/v2";
        public const string ApiKeyVariable = "NEON_API_KEY";
        public const string ApiUrlVariable = "NEON_API_URL";
        public const string ProjectIdVariable = "NEON_PROJECT_ID";
        public const int DefaultMaxRetries = 8;

        public NeonOptions(string apiUrl, string apiKey)
        {
            if (string.IsNullOrWhiteSpace(apiKey))
                throw new PgBackupException(ErrorIds.NeonApiKeyMissing, ErrorKind.InvalidArgument, "The Neon API key is empty.");
            if (!Uri.TryCreate(apiUrl.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    $"The Neon API URL '{apiUrl}' is not an http(s) URL.");
            // The API key goes there as a bearer token: never in clear text over a network (a .env file may set the URL).
            if (uri.Scheme != Uri.UriSchemeHttps && !uri.IsLoopback)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.SecurityError,
                    $"The Neon API URL '{apiUrl}' is not https: the API key would travel unencrypted. Only this machine (localhost, 127.0.0.1, ::1) may be reached over http.");
            ApiUrl = uri;
            ApiKey = apiKey;
        }

        /// <summary>The API's base URL, ending with '/'.</summary>
        public Uri ApiUrl { get; }

        /// <summary>The API key: internal, so that no output object, format view or serializer can show it.</summary>
        internal string ApiKey { get; }

        /// <summary>Where the key came from (-ApiKey, $env:NEON_API_KEY, .env), for verbose output.</summary>
        public string ApiKeySource { get; init; } = "-ApiKey";

        public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
        public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(300);
        /// <summary>The first retry delay; each further retry doubles it, up to <see cref="MaxRetryDelay"/>.</summary>
        public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);
        public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
        /// <summary>How often one request is retried after 423, 429, 503 or a network failure before giving up.</summary>
        public int MaxRetries { get; init; } = DefaultMaxRetries;
        public int PageSize { get; init; } = 100;
        public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

        internal Redactor Redactor => new Redactor(new[] { ApiKey });

        /// <summary>These options with the given settings changed.</summary>
        public NeonOptions With(TimeSpan? operationTimeout = null, int? maxRetries = null, TimeSpan? pollInterval = null, TimeSpan? retryBaseDelay = null) =>
            new NeonOptions(ApiUrl.ToString(), ApiKey)
        {
            ApiKeySource = ApiKeySource,
            PollInterval = pollInterval ?? PollInterval,
            OperationTimeout = operationTimeout ?? OperationTimeout,
            RetryBaseDelay = retryBaseDelay ?? RetryBaseDelay,
            MaxRetryDelay = MaxRetryDelay,
            MaxRetries = maxRetries ?? MaxRetries,
            PageSize = PageSize,
            RequestTimeout = RequestTimeout,
        };

        /// <summary>
        /// The options a cmdlet uses: the key from <paramref name="apiKey"/>, else <c>$env:NEON_API_KEY</c>, else
        /// <c>NEON_API_KEY</c> in <c>.env</c>; the URL from <paramref name="apiUrl"/>, else <c>$env:NEON_API_URL</c>, else
        /// <c>.env</c>, else Neon's.
        /// </summary>
        public static NeonOptions Resolve(string? apiKey, string? apiUrl, string currentFolder, TimeSpan? operationTimeout, int? maxRetries,
            IOperationLog log, Func<string, string?>? environment = null)
        {
            environment ??= Environment.GetEnvironmentVariable;
            var key = ResolvedSetting.Resolve(apiKey, "-ApiKey", ApiKeyVariable, currentFolder, environment)
                ?? throw new PgBackupException(ErrorIds.NeonApiKeyMissing, ErrorKind.InvalidArgument,
                    "No Neon API key: give -ApiKey, set $env:NEON_API_KEY, or put NEON_API_KEY in a .env file in the current folder.")
                {
                    RecommendedAction = "Create an API key in the Neon Console (Account settings, API keys) and set $env:NEON_API_KEY.",
                };
            var url = ResolvedSetting.Resolve(apiUrl, "-ApiUrl", ApiUrlVariable, currentFolder, environment);
            var options = new NeonOptions(url?.Value ?? DefaultApiUrl, key.Value)
            {
                ApiKeySource = key.Source,
                MaxRetries = maxRetries ?? DefaultMaxRetries,
                OperationTimeout = operationTimeout ?? TimeSpan.FromSeconds(300),
            };
            log.Verbose($"Neon API {options.ApiUrl} (from {url?.Source ?? "the default"}), API key from {key.Source}.");
            return options;
        }

        public override string ToString() => ApiUrl.ToString();
    }
}
