using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using FakeNeon.OpenApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FakeNeon
{
    /// <summary>An answer of the fake: status, JSON body (or none), extra headers.</summary>
    public sealed record Answer(int Status, JsonNode? Body, string? RetryAfter = null);

    /// <summary>
    /// The fake Neon API v2 on 127.0.0.1: the routes PgBackup uses, behaving as Neon does (operations that finish over
    /// a few polls, 423 while they run, 401, 404, 409, 422, delete refusals, restore with preserve_under_name),
    /// requests checked against Neon's spec, answers validated against it, faults injected through /_fake/faults.
    /// </summary>
    public sealed class FakeNeonServer : IAsyncDisposable
    {
        public const string ApiPrefix = "/api/v2";
        public const string LockedMessage = "project already has running conflicting operations, scheduling of new ones is prohibited";

        private readonly object _gate = new object();
        private readonly FakeNeonConfig _config;
        private readonly OpenApiSpec _spec;
        private readonly SchemaValidator _validator;
        private readonly IBranchStorage _storage;
        private readonly string _dbPrefix;
        private readonly List<FakeProject> _projects = new List<FakeProject>();
        private readonly List<(string Id, string Name)> _orgs = new List<(string, string)>();
        private readonly List<Fault> _faults = new List<Fault>();
        private readonly List<RequestRecord> _requests = new List<RequestRecord>();
        private readonly List<string> _violations = new List<string>();
        private readonly Dictionary<(string Method, string Template), Func<Call, Answer>> _routes;
        private WebApplication? _app;

        public FakeNeonServer(FakeNeonConfig config, OpenApiSpec? spec = null)
        {
            _config = config;
            _spec = spec ?? OpenApiSpec.Load();
            _validator = new SchemaValidator(_spec);
            _dbPrefix = "fakeneon_" + Ids.Hex(6) + "_";
            _storage = config.AdminConnectionUri is null ? new NullStorage() : new PostgresStorage(config.AdminConnectionUri, _dbPrefix);
            _routes = new Dictionary<(string, string), Func<Call, Answer>>
            {
                [("GET", "/projects")] = ListProjects,
                [("GET", "/projects/{project_id}")] = GetProject,
                [("GET", "/users/me/organizations")] = ListOrganizations,
                [("GET", "/projects/{project_id}/endpoints")] = ListEndpoints,
                [("GET", "/projects/{project_id}/branches/{branch_id}/endpoints")] = ListBranchEndpoints,
                [("GET", "/projects/{project_id}/branches")] = ListBranches,
                [("POST", "/projects/{project_id}/branches")] = CreateBranch,
                [("GET", "/projects/{project_id}/branches/{branch_id}")] = GetBranch,
                [("DELETE", "/projects/{project_id}/branches/{branch_id}")] = DeleteBranch,
                [("POST", "/projects/{project_id}/branches/{branch_id}/restore")] = RestoreBranch,
                [("POST", "/projects/{project_id}/branches/{branch_id}/set_as_default")] = SetAsDefault,
                [("GET", "/projects/{project_id}/operations")] = ListOperations,
                [("GET", "/projects/{project_id}/operations/{operation_id}")] = GetOperation,
                [("GET", "/projects/{project_id}/connection_uri")] = GetConnectionUri,
            };
        }

        public FakeNeonConfig Config => _config;
        public OpenApiSpec Spec => _spec;
        public string BaseUrl { get; private set; } = "";
        public string ApiUrl => BaseUrl + ApiPrefix;
        public IReadOnlyCollection<(string Method, string Template)> Routes => _routes.Keys;

        public List<string> Violations { get { lock (_gate) return _violations.ToList(); } }
        public List<RequestRecord> Requests { get { lock (_gate) return _requests.ToList(); } }

        public async Task<string> StartAsync(int port = 0)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
            _app = builder.Build();
            _app.Run(HandleAsync);
            await _app.StartAsync().ConfigureAwait(false);
            var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            BaseUrl = address.Replace("[::1]", "127.0.0.1").TrimEnd('/');
            return BaseUrl;
        }

        public async ValueTask DisposeAsync()
        {
            if (_app is not null) { await _app.StopAsync().ConfigureAwait(false); await _app.DisposeAsync().ConfigureAwait(false); }
            _storage.Dispose();
        }

        // ---- HTTP plumbing ----

        public sealed class Call
        {
            public string Method { get; init; } = "";
            public string Template { get; init; } = "";
            public Dictionary<string, string> Path { get; init; } = new Dictionary<string, string>();
            public IQueryCollection Query { get; init; } = default!;
            public JsonNode? Body { get; init; }
            public DateTime Now { get; init; }
            public string? Q(string name) => Query.TryGetValue(name, out var v) && v.Count > 0 ? v[0] : null;
        }

        private async Task HandleAsync(HttpContext ctx)
        {
            var path = ctx.Request.Path.Value ?? "/";
            string requestId = Guid.NewGuid().ToString();
            ctx.Response.Headers["X-Neon-Ret-Request-Id"] = requestId;
            Answer answer;
            string body = "";
            if (ctx.Request.ContentLength is > 0 || ctx.Request.Headers.ContainsKey("Transfer-Encoding"))
                using (var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8)) body = await reader.ReadToEndAsync().ConfigureAwait(false);

            if (path.StartsWith("/_fake/", StringComparison.Ordinal))
            {
                try { answer = Control(ctx.Request.Method, path.Substring("/_fake".Length), body, ctx.Request.Query); }
                catch (Exception e) { answer = new Answer(500, new JsonObject { ["error"] = e.ToString() }); }
                await Write(ctx, answer, requestId).ConfigureAwait(false);
                return;
            }
            if (!path.StartsWith(ApiPrefix + "/", StringComparison.Ordinal))
            {
                await Write(ctx, Error(404, "not found"), requestId).ConfigureAwait(false);
                return;
            }
            var rel = path.Substring(ApiPrefix.Length);
            var method = ctx.Request.Method.ToUpperInvariant();
            var auth = ctx.Request.Headers.Authorization.ToString();
            bool authorized = auth.StartsWith("Bearer ", StringComparison.Ordinal) && _config.ApiKeys.Contains(auth.Substring(7).Trim());
            var record = new RequestRecord { Time = DateTime.UtcNow, Method = method, Path = rel + ctx.Request.QueryString.Value, Authorized = authorized };
            lock (_gate) _requests.Add(record);

            var template = _spec.MatchTemplate(rel);
            if (template is null || !_spec.HasOperation(template, method))
                answer = Error(404, "not found");
            else if (!_routes.TryGetValue((method, template), out var handler))
                answer = Error(501, $"the fake does not implement {method} {template}");
            else
            {
                answer = Prepare(method, rel, template, body, ctx.Request.Query, handler, authorized, record);
                if (answer.Status < 600 && _config.ValidateResponses && !_config.Drift && record.Fault is null)
                    ValidateAnswer(method, template, answer);
            }
            record.Status = answer.Status;
            await Write(ctx, answer, requestId).ConfigureAwait(false);
        }

        private Answer Prepare(string method, string rel, string template, string body, IQueryCollection query, Func<Call, Answer> handler, bool authorized, RequestRecord record)
        {
            lock (_gate)
            {
                var fault = _faults.FirstOrDefault(f => f.Operation is null && f.Count > 0
                    && (f.Method is null || string.Equals(f.Method, method, StringComparison.OrdinalIgnoreCase))
                    && (f.Path is null || rel.Contains(f.Path, StringComparison.Ordinal)));
                if (fault is not null)
                {
                    fault.Count--;
                    if (fault.Count == 0) _faults.Remove(fault);
                    record.Fault = fault.Status.ToString(CultureInfo.InvariantCulture) + (fault.After ? " after" : "");
                    if (fault.After) Handle(method, rel, template, body, query, handler, authorized);
                    var msg = fault.Message ?? fault.Status switch
                    {
                        423 => LockedMessage,
                        429 => "too many requests",
                        503 => "service temporarily unavailable",
                        _ => "injected fault",
                    };
                    return Error(fault.Status, msg, fault.Code, fault.RetryAfter);
                }
            }
            return Handle(method, rel, template, body, query, handler, authorized);
        }

        private Answer Handle(string method, string rel, string template, string body, IQueryCollection query, Func<Call, Answer> handler, bool authorized)
        {
            if (!authorized) return Error(401, "authentication required: a valid API key is needed in the Authorization header");

            JsonNode? json = null;
            var schema = _spec.RequestSchema(template, method);
            if (body.Trim().Length > 0)
            {
                try { json = JsonNode.Parse(body); }
                catch (JsonException e) { return Error(400, "invalid request: decode application/json: " + e.Message); }
                if (schema is not null)
                {
                    var errors = _validator.Validate(json, schema, strict: false);
                    if (errors.Count > 0) return Error(400, "invalid request: " + string.Join("; ", errors));
                }
            }
            else if (_spec.RequestBodyRequired(template, method))
                return Error(400, "invalid request: decode application/json: request body is required");

            var names = template.Trim('/').Split('/');
            var values = rel.Trim('/').Split('/');
            var pathParams = new Dictionary<string, string>();
            for (int i = 0; i < names.Length; i++)
                if (names[i].StartsWith("{", StringComparison.Ordinal)) pathParams[names[i].Trim('{', '}')] = Uri.UnescapeDataString(values[i]);
            lock (_gate)
            {
                try
                {
                    return handler(new Call { Method = method, Template = template, Path = pathParams, Query = query, Body = json, Now = DateTime.UtcNow });
                }
                catch (Exception e)
                {
                    _violations.Add($"{method} {rel}: the fake failed: {e.Message}");
                    return Error(500, "internal error in the fake: " + e.Message);
                }
            }
        }

        private void ValidateAnswer(string method, string template, Answer answer)
        {
            try
            {
                var schema = _spec.ResponseSchema(template, method, answer.Status, out _);
                if (schema is null)
                {
                    if (answer.Body is not null) lock (_gate) _violations.Add($"{method} {template} {answer.Status}: the spec has no body for this status");
                    return;
                }
                var errors = _validator.Validate(answer.Body, schema, strict: true);
                if (errors.Count > 0) lock (_gate) _violations.AddRange(errors.Select(e => $"{method} {template} {answer.Status}: {e}"));
            }
            catch (KeyNotFoundException e)
            {
                lock (_gate) _violations.Add($"{method} {template} {answer.Status}: {e.Message}");
            }
        }

        private static async Task Write(HttpContext ctx, Answer a, string requestId)
        {
            ctx.Response.StatusCode = a.Status;
            if (a.RetryAfter is not null) ctx.Response.Headers["Retry-After"] = a.RetryAfter;
            if (a.Body is JsonObject o && a.Status >= 400 && o.ContainsKey("message") && !o.ContainsKey("request_id")) o["request_id"] = requestId;
            if (a.Body is not null)
            {
                ctx.Response.ContentType = "application/json; charset=utf-8";
                await ctx.Response.WriteAsync(a.Body.ToJsonString()).ConfigureAwait(false);
            }
        }

        private static Answer Error(int status, string message, string? code = null, string? retryAfter = null) =>
            new Answer(status, new JsonObject { ["code"] = code ?? "", ["message"] = message }, retryAfter);

        private static Answer Ok(JsonNode body, int status = 200) => new Answer(status, body);

        // ---- State helpers ----

        private FakeProject? Project(Call c) => _projects.FirstOrDefault(p => p.Id == c.Path["project_id"]);

        private bool Locked(FakeProject p, DateTime now) =>
            p.Operations.Any(o => now < o.FinishesAt.AddMilliseconds(_config.LockLagMs));

        private List<FakeOperation> Schedule(FakeProject p, DateTime now, params (string Action, string? Branch, string? Endpoint)[] ops)
        {
            var fault = _faults.FirstOrDefault(f => f.Operation is not null && f.Count > 0);
            if (fault is not null && --fault.Count == 0) _faults.Remove(fault);
            var list = new List<FakeOperation>();
            for (int i = 0; i < ops.Length; i++)
            {
                int duration = _config.OperationMs + i * _config.OperationMs / 4;
                if (fault?.Operation == "hang") duration = 600_000;
                if (fault?.Operation == "slow") duration = fault.DurationMs;
                var op = new FakeOperation
                {
                    ProjectId = p.Id, BranchId = ops[i].Branch, EndpointId = ops[i].Endpoint, Action = ops[i].Action, Created = now,
                    DurationMs = duration, Fails = fault?.Operation == "fail" && i == 0,
                };
                list.Add(op);
                p.Operations.Add(op);
            }
            if (_config.Drift)
            {
                // Neon in 2026-09: a project-level operation with an action newer than the spec's enum.
                var sync = new FakeOperation { ProjectId = p.Id, Action = "epc_sync", Created = now, DurationMs = _config.OperationMs / 2 };
                list.Add(sync);
                p.Operations.Add(sync);
            }
            return list;
        }

        private JsonObject BranchJson(FakeProject p, FakeBranch b, DateTime now, IReadOnlyDictionary<string, long>? sizes = null)
        {
            var (current, pending) = b.State(now);
            var o = new JsonObject
            {
                ["id"] = b.Id,
                ["project_id"] = p.Id,
            };
            if (b.ParentId is not null) o["parent_id"] = b.ParentId;
            if (b.ParentLsn is not null) o["parent_lsn"] = b.ParentLsn;
            if (b.ParentTimestamp is not null) o["parent_timestamp"] = Time.Format(b.ParentTimestamp.Value);
            o["name"] = b.Name;
            o["current_state"] = current;
            if (pending is not null) o["pending_state"] = pending;
            o["state_changed_at"] = Time.Format(b.StateChangedAt);
            if (current == "ready" && sizes is not null && sizes.TryGetValue(b.Database, out var size)) o["logical_size"] = size;
            o["creation_source"] = "console";
            o["primary"] = b.Default;
            o["default"] = b.Default;
            o["protected"] = b.Protected;
            o["cpu_used_sec"] = 0;
            o["compute_time_seconds"] = 0;
            o["active_time_seconds"] = 0;
            o["written_data_bytes"] = 0;
            o["data_transfer_bytes"] = 0;
            o["created_at"] = Time.Format(b.CreatedAt);
            o["updated_at"] = Time.Format(b.UpdatedAt);
            if (b.ExpiresAt is not null)
            {
                o["expires_at"] = Time.Format(b.ExpiresAt.Value);
                o["ttl_interval_seconds"] = (int)Math.Max(0, (b.ExpiresAt.Value - b.CreatedAt).TotalSeconds);
            }
            if (b.RestoredFrom is not null) o["restored_from"] = b.RestoredFrom;
            o["init_source"] = "parent-data";
            o["created_by"] = new JsonObject { ["name"] = "PgBackup tests", ["image"] = "" };
            if (_config.Drift)
            {
                o["slug"] = b.Id;
                o["project_slug"] = p.Id;
                o["restore_window"] = new JsonObject { ["seconds"] = 86400 };
            }
            return o;
        }

        private JsonObject EndpointJson(FakeProject p, FakeEndpoint e)
        {
            var o = new JsonObject
            {
                ["host"] = e.Host,
                ["id"] = e.Id,
                ["project_id"] = p.Id,
                ["branch_id"] = e.BranchId,
                ["autoscaling_limit_min_cu"] = 0.25,
                ["autoscaling_limit_max_cu"] = 0.25,
                ["region_id"] = p.RegionId,
                ["type"] = "read_write",
                ["current_state"] = "idle",
                ["settings"] = new JsonObject(),
                ["pooler_enabled"] = false,
                ["pooler_mode"] = "transaction",
                ["disabled"] = false,
                ["passwordless_access"] = true,
                ["creation_source"] = "console",
                ["created_at"] = Time.Format(e.CreatedAt),
                ["updated_at"] = Time.Format(e.CreatedAt),
                ["proxy_host"] = e.ProxyHost,
                ["suspend_timeout_seconds"] = 0,
                ["provisioner"] = "k8s-neonvm",
            };
            if (_config.Drift)
            {
                o["hosts"] = new JsonObject { ["read_write_host"] = e.Host, ["read_write_pooled_host"] = e.PoolerHost };
                o["slug"] = e.Id;
            }
            return o;
        }

        private static JsonObject OperationJson(FakeOperation op, DateTime now)
        {
            var status = op.Status(now);
            var o = new JsonObject { ["id"] = op.Id.ToString(), ["project_id"] = op.ProjectId };
            if (op.BranchId is not null) o["branch_id"] = op.BranchId;
            if (op.EndpointId is not null) o["endpoint_id"] = op.EndpointId;
            o["action"] = op.Action;
            o["status"] = status;
            if (status == "failed") o["error"] = "the fake was told to fail this operation";
            o["failures_count"] = status == "failed" ? 1 : 0;
            o["created_at"] = Time.Format(op.Created);
            o["updated_at"] = Time.Format(op.Done(now) ? op.FinishesAt : now);
            o["total_duration_ms"] = (int)Math.Min(op.DurationMs, Math.Max(0, (now - op.Created).TotalMilliseconds));
            return o;
        }

        private JsonArray Ops(IEnumerable<FakeOperation> ops, DateTime now, FakeProject p)
        {
            var a = new JsonArray(ops.Select(o => (JsonNode)OperationJson(o, now)).ToArray());
            return a;
        }

        private JsonObject ProjectListItem(FakeProject p)
        {
            var o = new JsonObject
            {
                ["id"] = p.Id,
                ["platform_id"] = "aws",
                ["region_id"] = p.RegionId,
                ["name"] = p.Name,
                ["provisioner"] = "k8s-neonvm",
                ["default_endpoint_settings"] = new JsonObject { ["autoscaling_limit_min_cu"] = 0.25, ["autoscaling_limit_max_cu"] = 0.25, ["suspend_timeout_seconds"] = 0 },
                ["settings"] = new JsonObject { ["allowed_ips"] = new JsonObject { ["ips"] = new JsonArray(), ["protected_branches_only"] = false }, ["enable_logical_replication"] = false },
                ["pg_version"] = 17,
                ["proxy_host"] = p.ProxyHost,
                ["branch_logical_size_limit"] = 512,
                ["branch_logical_size_limit_bytes"] = 536870912L,
                ["store_passwords"] = true,
                ["active_time"] = 0,
                ["cpu_used_sec"] = 0,
                ["creation_source"] = "console",
                ["created_at"] = Time.Format(p.CreatedAt),
                ["updated_at"] = Time.Format(p.UpdatedAt),
                ["owner_id"] = "00000000-0000-4000-8000-000000000001",
                ["history_retention_seconds"] = 86400,
            };
            if (p.OrgId is not null) o["org_id"] = p.OrgId;
            return o;
        }

        // ---- Routes ----

        private Answer ListProjects(Call c)
        {
            int limit = 10;
            if (c.Q("limit") is string l && (!int.TryParse(l, out limit) || limit < 1 || limit > 400))
                return Error(400, "invalid request: limit must be between 1 and 400");
            limit = Math.Min(limit, _config.ProjectPageSize);
            var orgId = c.Q("org_id");
            if (orgId is not null && !_orgs.Any(o => o.Id == orgId)) return Error(404, "organization not found");
            var visible = _projects.Where(p => p.OrgId == orgId).OrderBy(p => p.CreatedAt).ThenBy(p => p.Id, StringComparer.Ordinal).ToList();
            var cursor = c.Q("cursor");
            if (cursor is not null)
            {
                int at = visible.FindIndex(p => p.Id == cursor);
                visible = at >= 0 ? visible.Skip(at + 1).ToList() : new List<FakeProject>();
            }
            var page = visible.Take(limit).ToList();
            var body = new JsonObject
            {
                ["projects"] = new JsonArray(page.Select(p => (JsonNode)ProjectListItem(p)).ToArray()),
                ["applications"] = new JsonObject(),
                ["integrations"] = new JsonObject(),
            };
            if (page.Count > 0) body["pagination"] = new JsonObject { ["cursor"] = page[^1].Id };
            return Ok(body);
        }

        private Answer GetProject(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var o = ProjectListItem(p);
            o.Remove("active_time");
            o["data_storage_bytes_hour"] = 0;
            o["data_transfer_bytes"] = 0;
            o["written_data_bytes"] = 0;
            o["compute_time_seconds"] = 0;
            o["active_time_seconds"] = 0;
            o["consumption_period_start"] = Time.Format(new DateTime(p.CreatedAt.Year, p.CreatedAt.Month, 1, 0, 0, 0, DateTimeKind.Utc));
            o["consumption_period_end"] = Time.Format(new DateTime(p.CreatedAt.Year, p.CreatedAt.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1));
            o["owner"] = new JsonObject { ["email"] = "tests@example.com", ["name"] = "PgBackup tests", ["branches_limit"] = p.BranchLimit, ["subscription_type"] = "free_v3" };
            return Ok(new JsonObject { ["project"] = o });
        }

        private Answer ListOrganizations(Call c) => Ok(new JsonObject
        {
            ["organizations"] = new JsonArray(_orgs.Select(o => (JsonNode)new JsonObject
            {
                ["id"] = o.Id, ["name"] = o.Name, ["handle"] = o.Id, ["plan"] = "free_v3", ["created_at"] = "2025-01-01T00:00:00Z",
                ["managed_by"] = "console", ["updated_at"] = "2025-01-01T00:00:00Z",
            }).ToArray()),
        });

        private Answer ListEndpoints(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            return Ok(new JsonObject { ["endpoints"] = new JsonArray(p.Endpoints.Select(e => (JsonNode)EndpointJson(p, e)).ToArray()) });
        }

        private Answer ListBranchEndpoints(Call c)
        {
            var p = Project(c);
            var b = p?.Live.FirstOrDefault(x => x.Id == c.Path["branch_id"]);
            if (p is null || b is null) return Error(404, p is null ? "project not found" : "branch not found");
            return Ok(new JsonObject { ["endpoints"] = new JsonArray(p.Endpoints.Where(e => e.BranchId == b.Id).Select(e => (JsonNode)EndpointJson(p, e)).ToArray()) });
        }

        private sealed class BranchCursor
        {
            public string branch_id { get; set; } = "";
            public string sort_by { get; set; } = "";
            public string sort_by_value { get; set; } = "";
            public string sort_order { get; set; } = "";
        }

        private static string SortValue(FakeBranch b, string sortBy) => sortBy switch
        {
            "name" => b.Name,
            "created_at" => b.CreatedAt.ToString("o", CultureInfo.InvariantCulture),
            _ => b.UpdatedAt.ToString("o", CultureInfo.InvariantCulture),
        };

        private Answer ListBranches(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var sortBy = c.Q("sort_by") ?? "updated_at";
            var sortOrder = c.Q("sort_order") ?? "desc";
            if (sortBy is not ("name" or "created_at" or "updated_at") || sortOrder is not ("asc" or "desc"))
                return Error(400, "invalid request: sort_by or sort_order");
            int limit = int.MaxValue;
            if (c.Q("limit") is string l && (!int.TryParse(l, out limit) || limit < 1 || limit > 10000))
                return Error(400, "invalid request: limit must be between 1 and 10000");
            limit = Math.Min(limit, _config.BranchPageSize);
            IEnumerable<FakeBranch> list = p.Live;
            if (c.Q("search") is string search && search.Length > 0)
                list = list.Where(b => b.Name.Contains(search, StringComparison.OrdinalIgnoreCase) || b.Id.Contains(search, StringComparison.Ordinal));
            // Stable order: the sort value, then the id.
            var ordered = list.Select(b => (b, key: SortValue(b, sortBy))).ToList();
            Comparison<(FakeBranch b, string key)> cmp = (x, y) =>
            {
                int r = string.CompareOrdinal(x.key, y.key);
                if (r == 0) r = string.CompareOrdinal(x.b.Id, y.b.Id);
                return sortOrder == "desc" ? -r : r;
            };
            ordered.Sort(cmp);
            if (c.Q("cursor") is string cursor)
            {
                BranchCursor? cur;
                try { cur = JsonSerializer.Deserialize<BranchCursor>(Convert.FromBase64String(cursor)); }
                catch (Exception) { return Error(400, "invalid request: cursor"); }
                if (cur is null || cur.sort_by != sortBy || cur.sort_order != sortOrder) return Error(400, "invalid request: the cursor was made for another sort");
                ordered = ordered.Where(x =>
                {
                    int r = string.CompareOrdinal(x.key, cur.sort_by_value);
                    if (r == 0) r = string.CompareOrdinal(x.b.Id, cur.branch_id);
                    return sortOrder == "desc" ? r < 0 : r > 0;
                }).ToList();
            }
            var page = ordered.Take(limit).ToList();
            var sizes = _storage.Sizes();
            var body = new JsonObject
            {
                ["branches"] = new JsonArray(page.Select(x => (JsonNode)BranchJson(p, x.b, c.Now, sizes)).ToArray()),
                ["annotations"] = new JsonObject(),
            };
            var pagination = new JsonObject { ["sort_by"] = sortBy, ["sort_order"] = sortOrder.ToUpperInvariant() };
            if (page.Count > 0)
            {
                // Like Neon: a next cursor even on the last page; the page after it is empty.
                var last = page[^1];
                var next = JsonSerializer.SerializeToUtf8Bytes(new BranchCursor { branch_id = last.b.Id, sort_by = sortBy, sort_by_value = last.key, sort_order = sortOrder });
                pagination["next"] = Convert.ToBase64String(next);
            }
            body["pagination"] = pagination;
            return Ok(body);
        }

        private Answer GetBranch(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var b = p.Live.FirstOrDefault(x => x.Id == c.Path["branch_id"]);
            if (b is null) return Error(404, "branch not found");
            return Ok(new JsonObject { ["branch"] = BranchJson(p, b, c.Now, _storage.Sizes()), ["annotation"] = new JsonObject { ["object"] = new JsonObject { ["type"] = "console/branch", ["id"] = b.Id }, ["value"] = new JsonObject() } });
        }

        private bool HasChildren(FakeProject p, FakeBranch b) => p.Live.Any(x => x.ParentId == b.Id);

        private Answer CreateBranch(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var req = c.Body?["branch"] as JsonObject;
            var parentId = req?["parent_id"]?.GetValue<string>();
            var parent = parentId is null ? p.Live.First(b => b.Default) : p.Live.FirstOrDefault(b => b.Id == parentId);
            if (parent is null) return Error(404, $"parent branch {parentId} not found");
            var name = req?["name"]?.GetValue<string>();
            if (name is not null && p.Live.Any(b => b.Name == name)) return Error(409, $"branch with name \"{name}\" already exists");
            if (p.Live.Count() >= p.BranchLimit)
                return Error(422, $"branches limit exceeded: the project can have at most {p.BranchLimit} branches", "BRANCHES_LIMIT_EXCEEDED");
            if (req?["parent_lsn"] is not null || req?["parent_timestamp"] is not null)
                return Error(400, "the fake creates branches from the parent's head only");
            DateTime? expires = null;
            if (req?["expires_at"] is JsonNode ex)
            {
                if (!DateTime.TryParse(ex.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var e))
                    return Error(400, "invalid request: expires_at is not a date-time");
                if (e <= c.Now) return Error(400, "expires_at must be in the future");
                if (e > c.Now.AddDays(30)) return Error(400, "expires_at must be at most 30 days in the future");
                expires = Time.Seconds(e);
            }
            if (parent.ExpiresAt is not null) return Error(400, "cannot create a branch from a branch that has an expiration time");
            var endpointsReq = c.Body?["endpoints"] as JsonArray ?? new JsonArray();
            if (endpointsReq.Count > 1) return Error(400, "the fake creates at most one endpoint per branch");
            if (Locked(p, c.Now)) return Error(423, LockedMessage);

            var now = Time.Seconds(c.Now);
            var id = Ids.Branch();
            var b = new FakeBranch
            {
                Id = id, ProjectId = p.Id, Name = name ?? id, ParentId = parent.Id, ParentLsn = "0/" + Ids.Hex(7).ToUpperInvariant(),
                ParentTimestamp = now, CreatedAt = now, UpdatedAt = now, StateChangedAt = now, ExpiresAt = expires,
                Database = _dbPrefix + id.Replace('-', '_'),
            };
            _storage.CreateFrom(b.Database, parent.Database);
            p.Branches.Add(b);
            FakeEndpoint? ep = null;
            if (endpointsReq.Count == 1) ep = AddEndpoint(p, b, now);
            var ops = ep is null
                ? Schedule(p, c.Now, ("create_branch", b.Id, null))
                : Schedule(p, c.Now, ("create_branch", b.Id, null), ("start_compute", b.Id, ep.Id));
            b.StateOps = ops.Take(1).ToList();
            var body = new JsonObject
            {
                ["branch"] = BranchJson(p, b, c.Now),
                ["endpoints"] = new JsonArray(ep is null ? Array.Empty<JsonNode>() : new JsonNode[] { EndpointJson(p, ep) }),
                ["operations"] = Ops(ops, c.Now, p),
                ["roles"] = new JsonArray(new JsonObject { ["branch_id"] = b.Id, ["name"] = "neondb_owner", ["protected"] = false, ["created_at"] = Time.Format(p.CreatedAt), ["updated_at"] = Time.Format(p.CreatedAt) }),
                ["databases"] = new JsonArray(new JsonObject { ["id"] = 1000 + p.Branches.Count, ["branch_id"] = b.Id, ["name"] = "neondb", ["owner_name"] = "neondb_owner", ["created_at"] = Time.Format(p.CreatedAt), ["updated_at"] = Time.Format(p.CreatedAt) }),
            };
            if (ep is not null)
                body["connection_uris"] = new JsonArray(new JsonObject
                {
                    ["connection_uri"] = _storage.UriFor(b.Database) ?? $"postgresql://neondb_owner:npg_fake@{ep.Host}/neondb?sslmode=require",
                    ["connection_parameters"] = new JsonObject { ["database"] = "neondb", ["password"] = "npg_fake", ["role"] = "neondb_owner", ["host"] = ep.Host, ["pooler_host"] = ep.PoolerHost },
                });
            return Ok(body, 201);
        }

        private static FakeEndpoint AddEndpoint(FakeProject p, FakeBranch b, DateTime now)
        {
            var id = Ids.Endpoint();
            var proxy = p.ProxyHost;
            var ep = new FakeEndpoint { Id = id, ProjectId = p.Id, BranchId = b.Id, Host = $"{id}.{proxy}", PoolerHost = $"{id}-pooler.{proxy}", ProxyHost = proxy, CreatedAt = now };
            p.Endpoints.Add(ep);
            return ep;
        }

        private Answer DeleteBranch(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var id = c.Path["branch_id"];
            var b = p.Live.FirstOrDefault(x => x.Id == id);
            if (b is null) return p.DeletedBranchIds.Contains(id) ? new Answer(204, null) : Error(404, "branch not found");
            if (b.Default) return Error(422, "cannot delete the project's default branch");
            if (b.ParentId is null) return Error(422, "cannot delete the project's root branch");
            if (b.Protected) return Error(422, "cannot delete a protected branch");
            var children = p.Live.Where(x => x.ParentId == b.Id).Select(x => x.Name).ToList();
            if (children.Count > 0) return Error(422, $"cannot delete a branch that has child branches: {string.Join(", ", children)}");
            if (Locked(p, c.Now)) return Error(423, LockedMessage);
            var endpoints = p.Endpoints.Where(e => e.BranchId == b.Id).ToList();
            var steps = endpoints.Select(e => ("suspend_compute", (string?)b.Id, (string?)e.Id)).Append(("delete_timeline", b.Id, null)).ToArray();
            var ops = Schedule(p, c.Now, steps);
            foreach (var e in endpoints) p.Endpoints.Remove(e);
            _storage.Drop(b.Database);
            b.Deleted = true;
            b.UpdatedAt = Time.Seconds(c.Now);
            p.DeletedBranchIds.Add(b.Id);
            return Ok(new JsonObject { ["branch"] = BranchJson(p, b, c.Now), ["operations"] = Ops(ops, c.Now, p) });
        }

        private Answer RestoreBranch(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var target = p.Live.FirstOrDefault(x => x.Id == c.Path["branch_id"]);
            if (target is null) return Error(404, "branch not found");
            var sourceId = c.Body!["source_branch_id"]!.GetValue<string>();
            var source = p.Live.FirstOrDefault(x => x.Id == sourceId);
            if (source is null) return Error(404, $"source branch {sourceId} not found");
            if (c.Body["source_lsn"] is not null || c.Body["source_timestamp"] is not null)
                return Error(400, "the fake restores from the source's head only");
            if (source.Id == target.Id) return Error(400, "restoring a branch from itself needs source_timestamp or source_lsn");
            var preserve = c.Body["preserve_under_name"]?.GetValue<string>();
            if (string.IsNullOrEmpty(preserve) && HasChildren(p, target))
                return Error(400, "preserve_under_name is required when the branch has children");
            if (!string.IsNullOrEmpty(preserve) && p.Live.Any(x => x.Name == preserve))
                return Error(409, $"branch with name \"{preserve}\" already exists");
            if (!string.IsNullOrEmpty(preserve) && p.Live.Count() >= p.BranchLimit)
                return Error(422, $"branches limit exceeded: the project can have at most {p.BranchLimit} branches", "BRANCHES_LIMIT_EXCEEDED");
            if (Locked(p, c.Now)) return Error(423, LockedMessage);

            var now = Time.Seconds(c.Now);
            FakeBranch? preserved = null;
            if (!string.IsNullOrEmpty(preserve))
            {
                var id = Ids.Branch();
                preserved = new FakeBranch
                {
                    Id = id, ProjectId = p.Id, Name = preserve!, ParentId = target.ParentId, ParentLsn = target.ParentLsn,
                    ParentTimestamp = target.ParentTimestamp, CreatedAt = now, UpdatedAt = now, StateChangedAt = now,
                    Database = _dbPrefix + id.Replace('-', '_'),
                };
                _storage.Restore(target.Database, source.Database, preserved.Database);
                // Every child of the target moves to the branch that keeps its old state.
                foreach (var child in p.Live.Where(x => x.ParentId == target.Id)) child.ParentId = preserved.Id;
                p.Branches.Add(preserved);
            }
            else
            {
                var old = _dbPrefix + "old_" + Ids.Hex(8);
                _storage.Restore(target.Database, source.Database, old);
                _storage.Drop(old);
            }
            target.RestoredFrom = source.Id;
            target.UpdatedAt = now;
            target.StateChangedAt = now;
            var endpoints = p.Endpoints.Where(e => e.BranchId == target.Id).ToList();
            var steps = new List<(string, string?, string?)> { ("create_timeline", target.Id, null) };
            foreach (var e in endpoints) { steps.Add(("suspend_compute", target.Id, e.Id)); steps.Add(("start_compute", target.Id, e.Id)); }
            var ops = Schedule(p, c.Now, steps.ToArray());
            target.StateOps = ops.Take(1).ToList();
            if (preserved is not null) preserved.StateOps = ops.Take(1).ToList();
            return Ok(new JsonObject { ["branch"] = BranchJson(p, target, c.Now), ["operations"] = Ops(ops, c.Now, p) });
        }

        private Answer SetAsDefault(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var b = p.Live.FirstOrDefault(x => x.Id == c.Path["branch_id"]);
            if (b is null) return Error(404, "branch not found");
            if (Locked(p, c.Now)) return Error(423, LockedMessage);
            if (b.ExpiresAt is not null) return Error(400, "a branch with an expiration time cannot be the default branch");
            foreach (var x in p.Live) x.Default = false;
            b.Default = true;
            b.UpdatedAt = Time.Seconds(c.Now);
            var ops = Schedule(p, c.Now, ("apply_config", b.Id, null));
            return Ok(new JsonObject { ["branch"] = BranchJson(p, b, c.Now), ["operations"] = Ops(ops, c.Now, p) });
        }

        private Answer ListOperations(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            int limit = 10;
            if (c.Q("limit") is string l && (!int.TryParse(l, out limit) || limit < 1 || limit > 1000)) return Error(400, "invalid request: limit");
            var ordered = p.Operations.OrderByDescending(o => o.Created).ThenBy(o => o.Id).ToList();
            if (c.Q("cursor") is string cursor)
            {
                int at = ordered.FindIndex(o => o.Id.ToString() == cursor);
                ordered = at >= 0 ? ordered.Skip(at + 1).ToList() : new List<FakeOperation>();
            }
            var page = ordered.Take(limit).ToList();
            var body = new JsonObject { ["operations"] = new JsonArray(page.Select(o => (JsonNode)OperationJson(o, c.Now)).ToArray()) };
            if (page.Count > 0) body["pagination"] = new JsonObject { ["cursor"] = page[^1].Id.ToString() };
            return Ok(body);
        }

        private Answer GetOperation(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var op = p.Operations.FirstOrDefault(o => o.Id.ToString() == c.Path["operation_id"]);
            if (op is null) return Error(404, "operation not found");
            op.Polls++;
            return Ok(new JsonObject { ["operation"] = OperationJson(op, c.Now) });
        }

        private Answer GetConnectionUri(Call c)
        {
            var p = Project(c);
            if (p is null) return Error(404, "project not found");
            var branchId = c.Q("branch_id");
            var b = branchId is null ? p.Live.First(x => x.Default) : p.Live.FirstOrDefault(x => x.Id == branchId);
            if (b is null) return Error(404, "branch not found");
            var ep = c.Q("endpoint_id") is string eid ? p.Endpoints.FirstOrDefault(e => e.Id == eid && e.BranchId == b.Id) : p.Endpoints.FirstOrDefault(e => e.BranchId == b.Id);
            if (ep is null) return Error(404, "the branch has no read-write endpoint");
            if (c.Q("database_name") is not "neondb") return Error(404, "database not found");
            if (c.Q("role_name") is not "neondb_owner") return Error(404, "role not found");
            bool pooled = string.Equals(c.Q("pooled"), "true", StringComparison.OrdinalIgnoreCase);
            var uri = _storage.UriFor(b.Database) ?? $"postgresql://neondb_owner:npg_fake@{(pooled ? ep.PoolerHost : ep.Host)}/neondb?sslmode=require";
            return Ok(new JsonObject { ["uri"] = uri });
        }

        // ---- Control: /_fake/... (for tests; the client never calls these) ----

        private Answer Control(string method, string path, string body, IQueryCollection query)
        {
            JsonNode? json = body.Trim().Length > 0 ? JsonNode.Parse(body) : null;
            lock (_gate)
            {
                var now = DateTime.UtcNow;
                switch ((method, path))
                {
                    case ("POST", "/projects"):
                        return Ok(CreateProject(json as JsonObject ?? new JsonObject(), now), 201);
                    case ("POST", "/organizations"):
                        var orgId = json?["id"]?.GetValue<string>() ?? "org-" + Ids.Project();
                        _orgs.Add((orgId, json?["name"]?.GetValue<string>() ?? orgId));
                        return Ok(new JsonObject { ["id"] = orgId }, 201);
                    case ("POST", "/faults"):
                        foreach (var f in json is JsonArray a ? a : new JsonArray(json!.DeepClone()))
                            _faults.Add(f.Deserialize<Fault>(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!);
                        return Ok(new JsonObject { ["faults"] = _faults.Count });
                    case ("DELETE", "/faults"):
                        _faults.Clear();
                        return Ok(new JsonObject { ["faults"] = 0 });
                    case ("POST", "/settings"):
                        if (json?["branch_page_size"] is JsonNode bps) _config.BranchPageSize = bps.GetValue<int>();
                        if (json?["project_page_size"] is JsonNode pps) _config.ProjectPageSize = pps.GetValue<int>();
                        if (json?["operation_ms"] is JsonNode om) _config.OperationMs = om.GetValue<int>();
                        if (json?["lock_lag_ms"] is JsonNode ll) _config.LockLagMs = ll.GetValue<int>();
                        if (json?["drift"] is JsonNode d) _config.Drift = d.GetValue<bool>();
                        if (json?["branch_limit"] is JsonNode bl) foreach (var p in _projects) p.BranchLimit = bl.GetValue<int>();
                        return Ok(SettingsJson());
                    case ("GET", "/settings"):
                        return Ok(SettingsJson());
                    case ("POST", "/settle"):
                        // Every operation finished now (failed ones stay failed), and no lock lag.
                        foreach (var p in _projects)
                            foreach (var o in p.Operations.Where(o => now < o.FinishesAt.AddMilliseconds(_config.LockLagMs)))
                            {
                                o.DurationMs = (int)(now - o.Created).TotalMilliseconds - _config.LockLagMs - 1;
                                o.Polls = Math.Max(o.Polls, 2);
                            }
                        return Ok(new JsonObject { ["settled"] = true });
                    case ("GET", "/requests"):
                        return Ok(new JsonArray(_requests.Select(r => (JsonNode)new JsonObject
                        {
                            ["time"] = r.Time.ToString("o", CultureInfo.InvariantCulture), ["method"] = r.Method, ["path"] = r.Path,
                            ["status"] = r.Status, ["authorized"] = r.Authorized, ["fault"] = r.Fault,
                        }).ToArray()));
                    case ("DELETE", "/requests"):
                        _requests.Clear();
                        return Ok(new JsonObject { ["requests"] = 0 });
                    case ("GET", "/violations"):
                        return Ok(new JsonArray(_violations.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()));
                    case ("GET", "/state"):
                        return Ok(new JsonObject
                        {
                            ["projects"] = new JsonArray(_projects.Select(p => (JsonNode)new JsonObject
                            {
                                ["id"] = p.Id, ["name"] = p.Name, ["org_id"] = p.OrgId, ["branch_limit"] = p.BranchLimit,
                                ["branches"] = new JsonArray(p.Live.Select(b => (JsonNode)new JsonObject
                                {
                                    ["id"] = b.Id, ["name"] = b.Name, ["parent_id"] = b.ParentId, ["default"] = b.Default, ["protected"] = b.Protected,
                                    ["state"] = b.State(now).current, ["database"] = b.Database, ["connection_uri"] = _storage.UriFor(b.Database),
                                }).ToArray()),
                                ["endpoints"] = new JsonArray(p.Endpoints.Select(e => (JsonNode)new JsonObject { ["id"] = e.Id, ["branch_id"] = e.BranchId, ["host"] = e.Host }).ToArray()),
                            }).ToArray()),
                        });
                    default:
                        if (method == "POST" && path.StartsWith("/branches/", StringComparison.Ordinal) && path.EndsWith("/protect", StringComparison.Ordinal))
                        {
                            var id = path.Split('/')[2];
                            var b = _projects.SelectMany(p => p.Live).FirstOrDefault(x => x.Id == id);
                            if (b is null) return Error(404, "branch not found");
                            b.Protected = true;
                            return Ok(new JsonObject { ["protected"] = true });
                        }
                        if (method == "POST" && path.StartsWith("/branches/", StringComparison.Ordinal) && path.EndsWith("/backdate", StringComparison.Ordinal))
                        {
                            // Retention tests need backups taken on other days: move a branch's creation time.
                            var id = path.Split('/')[2];
                            var b = _projects.SelectMany(p => p.Live).FirstOrDefault(x => x.Id == id);
                            if (b is null) return Error(404, "branch not found");
                            var t = DateTime.Parse(json!["created_at"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
                            b.CreatedAt = b.UpdatedAt = b.StateChangedAt = Time.Seconds(DateTime.SpecifyKind(t, DateTimeKind.Utc));
                            return Ok(new JsonObject { ["created_at"] = Time.Format(b.CreatedAt) });
                        }
                        return Error(404, $"no control route {method} {path}");
                }
            }
        }

        private JsonObject SettingsJson() => new JsonObject
        {
            ["branch_page_size"] = _config.BranchPageSize, ["project_page_size"] = _config.ProjectPageSize, ["operation_ms"] = _config.OperationMs,
            ["lock_lag_ms"] = _config.LockLagMs, ["drift"] = _config.Drift, ["validate_responses"] = _config.ValidateResponses,
        };

        private JsonObject CreateProject(JsonObject req, DateTime now)
        {
            now = Time.Seconds(now);
            var id = req["id"]?.GetValue<string>() ?? Ids.Project();
            var p = new FakeProject
            {
                Id = id, Name = req["name"]?.GetValue<string>() ?? id, RegionId = req["region_id"]?.GetValue<string>() ?? "aws-us-east-2",
                OrgId = req["org_id"]?.GetValue<string>(), Cell = req["cell"]?.GetValue<string>(),
                BranchLimit = req["branch_limit"]?.GetValue<int>() ?? 10, CreatedAt = now.AddSeconds(_projects.Count), UpdatedAt = now,
            };
            var branchId = Ids.Branch();
            var main = new FakeBranch
            {
                Id = branchId, ProjectId = id, Name = req["branch_name"]?.GetValue<string>() ?? "main", Default = true, CreatedAt = now, UpdatedAt = now,
                StateChangedAt = now, Database = _dbPrefix + branchId.Replace('-', '_'),
            };
            _storage.CreateEmpty(main.Database);
            p.Branches.Add(main);
            var ep = AddEndpoint(p, main, now);
            _projects.Add(p);
            return new JsonObject
            {
                ["project_id"] = p.Id, ["branch_id"] = main.Id, ["branch_name"] = main.Name, ["endpoint_id"] = ep.Id, ["host"] = ep.Host,
                ["pooler_host"] = ep.PoolerHost, ["database"] = main.Database, ["connection_uri"] = _storage.UriFor(main.Database),
                ["neon_uri"] = $"postgresql://neondb_owner:npg_fake@{ep.PoolerHost}/neondb?sslmode=require",
            };
        }
    }
}
