using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// A small client of Neon's management API v2: the calls the backup cmdlets need, with paging, retries of
    /// 423/429/503 (and network failures) with exponential backoff and Retry-After, and waiting on operations.
    /// Every message it makes is built from the HTTP status and Neon's code, message and request id, redacted; the API
    /// key is sent only in the Authorization header.
    /// </summary>
    internal sealed class NeonClient : IDisposable
    {
        private readonly NeonOptions _options;
        private readonly IOperationLog _log;
        private readonly HttpClient _http;
        private readonly Redactor _redactor;
        private readonly Random _jitter = new Random();

        public NeonClient(NeonOptions options, IOperationLog log, HttpMessageHandler? handler = null)
        {
            _options = options;
            _log = log;
            _redactor = options.Redactor;
            // TLS 1.2 on Windows PowerShell 5.1 hosts that would offer only SSL 3 and TLS 1.0 (TlsPolicy).
            _http = handler is null ? new HttpClient(TlsPolicy.CreateHandler(TlsPolicy.Current)) : new HttpClient(handler, disposeHandler: false);
            _http.Timeout = Timeout.InfiniteTimeSpan; // each request has its own deadline (RequestTimeout)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
            _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("PgBackup", typeof(NeonClient).Assembly.GetName().Version?.ToString() ?? "0"));
        }

        public NeonOptions Options => _options;

        /// <summary>How many times a request was retried (tests and verbose output).</summary>
        public int RetryCount { get; private set; }

        public void Dispose() => _http.Dispose();

        // ---- Calls ----

        public async Task<List<NeonProjectJson>> ListProjectsAsync(string? orgId, Func<List<NeonProjectJson>, bool>? onPage, CancellationToken ct)
        {
            var all = new List<NeonProjectJson>();
            string? cursor = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (true)
            {
                var query = new List<string> { "limit=" + Math.Min(400, Math.Max(1, _options.PageSize)).ToString(CultureInfo.InvariantCulture) };
                if (cursor is not null) query.Add("cursor=" + Uri.EscapeDataString(cursor));
                if (orgId is not null) query.Add("org_id=" + Uri.EscapeDataString(orgId));
                var page = await SendAsync<NeonProjectsPage>(HttpMethod.Get, "projects?" + string.Join("&", query), null, ct).ConfigureAwait(false);
                if (page.UnavailableProjectIds is { Count: > 0 })
                    _log.Warning($"Neon could not list these projects in time: {string.Join(", ", page.UnavailableProjectIds)}.");
                var fresh = page.Projects.Where(p => seen.Add(p.Id)).ToList();
                all.AddRange(fresh);
                if (fresh.Count > 0 && onPage is not null && onPage(fresh)) break;
                var next = page.Pagination?.Cursor ?? page.Pagination?.Next;
                if (fresh.Count == 0 || string.IsNullOrEmpty(next) || next == cursor) break;
                cursor = next;
            }
            return all;
        }

        public async Task<List<NeonOrganizationJson>> ListOrganizationsAsync(CancellationToken ct) =>
            (await SendAsync<NeonOrganizationsBody>(HttpMethod.Get, "users/me/organizations", null, ct).ConfigureAwait(false)).Organizations;

        public async Task<List<NeonEndpointJson>> ListEndpointsAsync(string projectId, CancellationToken ct) =>
            (await SendAsync<NeonEndpointsBody>(HttpMethod.Get, $"projects/{Esc(projectId)}/endpoints", null, ct).ConfigureAwait(false)).Endpoints;

        /// <summary>Every branch of the project, following <c>pagination.next</c> until a page is empty.</summary>
        public async Task<List<NeonBranchJson>> ListBranchesAsync(string projectId, CancellationToken ct)
        {
            var all = new List<NeonBranchJson>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string? cursor = null;
            int pages = 0;
            while (true)
            {
                var query = "limit=" + Math.Max(1, _options.PageSize).ToString(CultureInfo.InvariantCulture) +
                    "&sort_by=created_at&sort_order=desc" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
                var page = await SendAsync<NeonBranchesPage>(HttpMethod.Get, $"projects/{Esc(projectId)}/branches?{query}", null, ct).ConfigureAwait(false);
                pages++;
                var fresh = page.Branches.Where(b => seen.Add(b.Id)).ToList();
                all.AddRange(fresh);
                var next = page.Pagination?.Next;
                if (fresh.Count == 0 || string.IsNullOrEmpty(next) || next == cursor) break;
                cursor = next;
            }
            _log.Verbose($"Listed {all.Count} branch(es) of project {projectId} in {pages} page(s).");
            return all;
        }

        public async Task<NeonBranchJson> GetBranchAsync(string projectId, string branchId, CancellationToken ct) =>
            (await SendAsync<NeonBranchBody>(HttpMethod.Get, $"projects/{Esc(projectId)}/branches/{Esc(branchId)}", null, ct).ConfigureAwait(false)).Branch
            ?? throw Malformed("GET", "branch", "no branch");

        public Task<NeonBranchOperationsBody> CreateBranchAsync(string projectId, string parentId, string name, DateTime? expiresAt, CancellationToken ct)
        {
            var branch = new Dictionary<string, object> { ["parent_id"] = parentId, ["name"] = name };
            if (expiresAt.HasValue) branch["expires_at"] = NeonJson.FormatTime(expiresAt.Value);
            var body = new Dictionary<string, object> { ["branch"] = branch, ["endpoints"] = Array.Empty<object>() };
            return SendAsync<NeonBranchOperationsBody>(HttpMethod.Post, $"projects/{Esc(projectId)}/branches", body, ct);
        }

        /// <summary>Deletes a branch; null when Neon says it is already gone (204).</summary>
        public Task<NeonBranchOperationsBody?> DeleteBranchAsync(string projectId, string branchId, CancellationToken ct) =>
            SendAsync<NeonBranchOperationsBody?>(HttpMethod.Delete, $"projects/{Esc(projectId)}/branches/{Esc(branchId)}", null, ct, allowNoContent: true);

        public Task<NeonBranchOperationsBody> RestoreBranchAsync(string projectId, string targetId, string sourceId, string? preserveUnderName, CancellationToken ct)
        {
            var body = new Dictionary<string, object> { ["source_branch_id"] = sourceId };
            if (!string.IsNullOrEmpty(preserveUnderName)) body["preserve_under_name"] = preserveUnderName!;
            return SendAsync<NeonBranchOperationsBody>(HttpMethod.Post, $"projects/{Esc(projectId)}/branches/{Esc(targetId)}/restore", body, ct);
        }

        public Task<NeonBranchOperationsBody> SetAsDefaultAsync(string projectId, string branchId, CancellationToken ct) =>
            SendAsync<NeonBranchOperationsBody>(HttpMethod.Post, $"projects/{Esc(projectId)}/branches/{Esc(branchId)}/set_as_default", null, ct);

        public async Task<NeonOperationJson> GetOperationAsync(string projectId, string operationId, CancellationToken ct) =>
            (await SendAsync<NeonOperationBody>(HttpMethod.Get, $"projects/{Esc(projectId)}/operations/{Esc(operationId)}", null, ct).ConfigureAwait(false)).Operation
            ?? throw Malformed("GET", "operation", "no operation");

        // ---- Operations ----

        internal static bool IsDone(string status) => status is "finished" or "skipped";
        internal static bool IsFailure(string status) => status is "failed" or "error" or "cancelled" or "cancelling";

        /// <summary>
        /// Polls each operation until it has finished (or was skipped); a failed, errored or cancelled operation
        /// fails; when <see cref="NeonOptions.OperationTimeout"/> passes first, NeonOperationTimeout. Unknown statuses
        /// count as still running.
        /// </summary>
        public async Task WaitForOperationsAsync(string projectId, IReadOnlyList<NeonOperationJson> operations, string what, CancellationToken ct)
        {
            var pending = operations.Where(o => !IsDone(o.Status)).ToList();
            foreach (var failed in operations.Where(o => IsFailure(o.Status))) throw OperationFailed(failed, what);
            if (pending.Count == 0) return;
            var watch = Stopwatch.StartNew();
            int total = operations.Count;
            var activity = $"Waiting for Neon: {what}";
            try
            {
                while (pending.Count > 0)
                {
                    int done = total - pending.Count;
                    _log.Progress(new ProgressInfo(activity, $"{done} of {total} operation(s) finished")
                    {
                        ActivityId = 40,
                        PercentComplete = total == 0 ? -1 : 100 * done / total,
                        CurrentOperation = string.Join(", ", pending.Select(o => $"{o.Action} {o.Status}")),
                    });
                    if (watch.Elapsed >= _options.OperationTimeout)
                        throw new PgBackupException(ErrorIds.NeonOperationTimeout, ErrorKind.OperationTimeout,
                            $"Neon's operations for {what} did not finish within {Seconds(_options.OperationTimeout)}: " +
                            string.Join(", ", pending.Select(o => $"{o.Action} ({o.Id}) {o.Status}")) + ".", projectId)
                        {
                            RecommendedAction = "The operations may still finish: check the branch with Get-NeonBackupBranch, or give a longer -Timeout.",
                        };
                    var delay = _options.PollInterval;
                    var left = _options.OperationTimeout - watch.Elapsed;
                    if (left < delay) delay = left < TimeSpan.Zero ? TimeSpan.Zero : left;
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                    var still = new List<NeonOperationJson>();
                    foreach (var op in pending)
                    {
                        var now = await GetOperationAsync(projectId, op.Id, ct).ConfigureAwait(false);
                        if (IsFailure(now.Status)) throw OperationFailed(now, what);
                        if (!IsDone(now.Status)) still.Add(now);
                        else _log.Verbose($"Neon operation {now.Action} ({now.Id}) {now.Status}.");
                    }
                    pending = still;
                }
            }
            finally
            {
                _log.Progress(new ProgressInfo(activity, "done") { ActivityId = 40, Completed = true });
            }
        }

        private PgBackupException OperationFailed(NeonOperationJson op, string what) =>
            new PgBackupException(ErrorIds.NeonOperationFailed, ErrorKind.InvalidOperation,
                _redactor.Redact($"Neon's operation {op.Action} ({op.Id}) for {what} ended '{op.Status}'" +
                    (string.IsNullOrEmpty(op.Error) ? "." : $": {op.Error}")), op.BranchId ?? op.ProjectId);

        private static string Seconds(TimeSpan t) => t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.#} s" : $"{t.TotalMilliseconds:0} ms";

        // ---- HTTP ----

        private static string Esc(string s) => Uri.EscapeDataString(s);

        private PgBackupException Malformed(string method, string path, string detail) =>
            new PgBackupException(ErrorIds.NeonRequestFailed, ErrorKind.InvalidData, $"Neon's answer to {method} {path} is not what the API describes: {detail}.");

        internal static bool IsRetriable(HttpStatusCode status) =>
            (int)status is 423 or 429 or 502 or 503 or 504;

        private async Task<T> SendAsync<T>(HttpMethod method, string relative, object? body, CancellationToken ct, bool allowNoContent = false)
        {
            var uri = new Uri(_options.ApiUrl, relative);
            string shown = method.Method + " " + uri.AbsolutePath + (uri.Query.Length > 0 ? uri.Query : "");
            string? json = body is null ? null : NeonJson.Serialize(body);
            for (int attempt = 0; ; attempt++)
            {
                ct.ThrowIfCancellationRequested();
                _log.Verbose(_redactor.Redact(attempt == 0 ? shown : $"{shown} (retry {attempt})"));
                HttpResponseMessage response;
                string text;
                using var request = new HttpRequestMessage(method, uri);
                if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(_options.RequestTimeout);
                try
                {
                    response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                    text = response.Content is null ? "" : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (!ct.IsCancellationRequested && (e is HttpRequestException || e is OperationCanceledException || e is System.IO.IOException))
                {
                    // Network failure or no answer in time: safe to retry reads; a mutation may have been applied, so
                    // it is retried too only when it cannot have reached Neon (connection refused); otherwise it fails.
                    string why = e is OperationCanceledException ? $"no answer within {Seconds(_options.RequestTimeout)}" : _redactor.Redact(e.Message);
                    bool canRetry = method == HttpMethod.Get || IsConnectFailure(e);
                    if (canRetry && attempt < _options.MaxRetries)
                    {
                        var d = Backoff(attempt, null);
                        _log.Verbose($"{shown}: {why}; retrying in {Seconds(d)}.");
                        RetryCount++;
                        await Task.Delay(d, ct).ConfigureAwait(false);
                        continue;
                    }
                    throw new PgBackupException(canRetry ? ErrorIds.NeonRetriesExhausted : ErrorIds.NeonRequestFailed, ErrorKind.ConnectionError,
                        $"{shown}: {why}" + (canRetry ? $" (gave up after {attempt + 1} attempts)." : "."), _options.ApiUrl.ToString())
                    {
                        RecommendedAction = $"Check that {_options.ApiUrl.Host} can be reached (proxy, firewall), or set -ApiUrl.",
                    };
                }
                using (response)
                {
                    int code = (int)response.StatusCode;
                    if (response.IsSuccessStatusCode)
                    {
                        if (response.StatusCode == HttpStatusCode.NoContent || text.Trim().Length == 0)
                        {
                            if (allowNoContent) return default!;
                            throw Malformed(method.Method, uri.AbsolutePath, $"an empty body with status {code}");
                        }
                        try { return JsonSerializer.Deserialize<T>(text, NeonJson.Options) ?? throw new JsonException("null"); }
                        catch (JsonException e)
                        {
                            throw Malformed(method.Method, uri.AbsolutePath, _redactor.Redact(e.Message));
                        }
                    }
                    var error = ParseError(text);
                    if (IsRetriable(response.StatusCode) && attempt < _options.MaxRetries)
                    {
                        var retryAfter = RetryAfter(response);
                        var d = Backoff(attempt, retryAfter);
                        _log.Verbose(_redactor.Redact($"{shown}: {code} {Describe(error, response)}; retrying in {Seconds(d)}" +
                            (retryAfter.HasValue ? " (Retry-After)." : ".")));
                        RetryCount++;
                        await Task.Delay(d, ct).ConfigureAwait(false);
                        continue;
                    }
                    throw ErrorFor(method, shown, response, error, retriesExhausted: IsRetriable(response.StatusCode), attempts: attempt + 1);
                }
            }
        }

        private static bool IsConnectFailure(Exception e)
        {
            for (var x = e; x is not null; x = x.InnerException)
                if (x is System.Net.Sockets.SocketException s && s.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostNotFound)
                    return true;
            return false;
        }

        /// <summary>Retry-After as seconds or an HTTP date; capped at <see cref="NeonOptions.MaxRetryDelay"/>.</summary>
        private TimeSpan? RetryAfter(HttpResponseMessage response)
        {
            var ra = response.Headers.RetryAfter;
            TimeSpan? wait = null;
            if (ra?.Delta is TimeSpan delta) wait = delta;
            else if (ra?.Date is DateTimeOffset date) wait = date - DateTimeOffset.UtcNow;
            if (wait is null) return null;
            if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;
            return wait > _options.MaxRetryDelay ? _options.MaxRetryDelay : wait;
        }

        private TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
        {
            if (retryAfter.HasValue) return retryAfter.Value;
            double ms = _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20));
            ms = Math.Min(ms, _options.MaxRetryDelay.TotalMilliseconds);
            double jitter;
            lock (_jitter) jitter = 0.8 + 0.4 * _jitter.NextDouble();
            return TimeSpan.FromMilliseconds(ms * jitter);
        }

        internal static NeonErrorJson? ParseError(string text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            try { return JsonSerializer.Deserialize<NeonErrorJson>(text, NeonJson.Options); }
            catch (JsonException) { return null; }
        }

        private static string Describe(NeonErrorJson? error, HttpResponseMessage response)
        {
            string reason = response.ReasonPhrase ?? "";
            var sb = new StringBuilder(reason);
            if (!string.IsNullOrEmpty(error?.Message)) sb.Append(sb.Length > 0 ? ": " : "").Append(error!.Message);
            if (!string.IsNullOrEmpty(error?.Code)) sb.Append(" (code ").Append(error!.Code).Append(')');
            string? requestId = error?.RequestId;
            if (string.IsNullOrEmpty(requestId) && response.Headers.TryGetValues("x-neon-ret-request-id", out var ids)) requestId = ids.FirstOrDefault();
            if (!string.IsNullOrEmpty(requestId)) sb.Append(" [request id ").Append(requestId).Append(']');
            return sb.ToString();
        }

        private NeonApiException ErrorFor(HttpMethod method, string shown, HttpResponseMessage response, NeonErrorJson? error, bool retriesExhausted, int attempts)
        {
            int code = (int)response.StatusCode;
            string text = _redactor.Redact($"{shown}: {code} {Describe(error, response)}");
            string neonCode = error?.Code ?? "";
            if (retriesExhausted)
                return new NeonApiException(ErrorIds.NeonRetriesExhausted, code == 423 ? ErrorKind.ResourceBusy : ErrorKind.ConnectionError,
                    $"{text} (gave up after {attempts} attempts).", code, neonCode)
                {
                    RecommendedAction = code == 423
                        ? "Earlier operations in the project are still running; try again when they have finished."
                        : "Neon is busy or rate-limiting; try again later.",
                };
            switch (code)
            {
                case 401:
                    return new NeonApiException(ErrorIds.NeonUnauthorized, ErrorKind.AuthenticationError, text, code, neonCode)
                    { RecommendedAction = "Check the API key (-ApiKey, $env:NEON_API_KEY or NEON_API_KEY in .env); it may have been revoked." };
                case 403:
                    return new NeonApiException(ErrorIds.NeonUnauthorized, ErrorKind.PermissionDenied, text, code, neonCode)
                    { RecommendedAction = "The API key may not manage this project (an organization or project-scoped key)." };
                case 404:
                    return new NeonApiException(ErrorIds.NeonNotFound, ErrorKind.ObjectNotFound, text, code, neonCode);
                case 409:
                    return new NeonApiException(ErrorIds.NeonBranchExists, ErrorKind.ResourceExists, text, code, neonCode);
                case 422 when neonCode.IndexOf("LIMIT", StringComparison.OrdinalIgnoreCase) >= 0 || (error?.Message ?? "").IndexOf("limit", StringComparison.OrdinalIgnoreCase) >= 0:
                    return new NeonApiException(ErrorIds.NeonLimitExceeded, ErrorKind.InvalidOperation, text, code, neonCode)
                    { RecommendedAction = "Delete old backup branches (Get-NeonBackupBranch | Invoke-PgBackupRetention, or Remove-NeonBackupBranch), or raise the plan's branch limit." };
                default:
                    return new NeonApiException(ErrorIds.NeonRequestFailed, code >= 500 ? ErrorKind.ConnectionError : ErrorKind.InvalidOperation, text, code, neonCode);
            }
        }
    }
}

namespace PgBackup
{
    /// <summary>A failed Neon API call: the HTTP status and Neon's error code stay available to callers.</summary>
    public sealed class NeonApiException : PgBackupException
    {
        public NeonApiException(string errorId, ErrorKind kind, string message, int statusCode, string neonCode)
            : base(errorId, kind, message)
        {
            StatusCode = statusCode;
            NeonCode = neonCode;
        }

        public int StatusCode { get; }
        public string NeonCode { get; }
    }
}
