using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace PgBackup
{
    /// <summary>
    /// A PostgreSQL connection as libpq understands it: parsed from a <c>postgresql://</c> URI or a key=value string,
    /// with the password kept apart so that it can only reach a child process through its environment.
    /// Immutable; the <c>With*</c> methods return changed copies.
    /// </summary>
    public sealed class PgConnectionInfo
    {
        // libpq keywords, in the order they are written back out.
        private readonly SortedDictionary<string, string> _parameters;

        private PgConnectionInfo(SortedDictionary<string, string> parameters, string? password)
        {
            _parameters = parameters;
            Password = password;
        }

        /// <summary>The password, or null when libpq should find one itself (PGPASSWORD, ~/.pgpass).</summary>
        public string? Password { get; }

        public string? Host => Get("host") ?? Get("hostaddr");
        public int Port => int.TryParse(Get("port"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 5432;
        public string? PortText => Get("port");
        public string? User => Get("user");
        public string? Database => Get("dbname");
        public IReadOnlyDictionary<string, string> Parameters => _parameters;

        /// <summary>host:port as shown to users.</summary>
        public string Server => $"{Host ?? "localhost"}:{Port.ToString(CultureInfo.InvariantCulture)}";

        public string? Get(string keyword) => _parameters.TryGetValue(keyword, out var v) && v.Length > 0 ? v : null;

        /// <summary>Parses a <c>postgresql://</c> or <c>postgres://</c> URI, or a libpq key=value string.</summary>
        public static PgConnectionInfo Parse(string connectionString)
        {
            if (connectionString is null || connectionString.Trim().Length == 0)
                throw Invalid("The connection string is empty.");
            var text = connectionString.Trim();
            var parameters = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) ||
                text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
                ParseUri(text, parameters);
            else if (text.IndexOf('=') > 0)
                ParseKeyValue(text, parameters);
            else
                throw Invalid("The connection string is neither a postgresql:// URI nor a libpq key=value string.");

            parameters.TryGetValue("password", out var password);
            parameters.Remove("password");
            if (parameters.ContainsKey("port") && !IsValidPortList(parameters["port"]))
                throw Invalid($"The port '{parameters["port"]}' is not a number between 1 and 65535.");
            return new PgConnectionInfo(parameters, string.IsNullOrEmpty(password) ? null : password);
        }

        private static bool IsValidPortList(string value) =>
            value.Length == 0 || value.Split(',').All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 && n < 65536);

        private static PgBackupException Invalid(string message) =>
            new PgBackupException(ErrorIds.ConnectionStringInvalid, ErrorKind.InvalidArgument, message)
            {
                RecommendedAction = "Give a connection string like postgresql://user@host:5432/dbname or 'host=... dbname=... user=...'.",
            };

        private static void ParseUri(string text, IDictionary<string, string> parameters)
        {
            int schemeEnd = text.IndexOf("://", StringComparison.Ordinal) + 3;
            string rest = text.Substring(schemeEnd);
            string query = "";
            int q = rest.IndexOf('?');
            if (q >= 0)
            {
                query = rest.Substring(q + 1);
                rest = rest.Substring(0, q);
            }
            int slash = rest.IndexOf('/');
            string authority = slash >= 0 ? rest.Substring(0, slash) : rest;
            string path = slash >= 0 ? rest.Substring(slash + 1) : "";

            int at = authority.LastIndexOf('@');
            if (at >= 0)
            {
                string userInfo = authority.Substring(0, at);
                authority = authority.Substring(at + 1);
                int colon = userInfo.IndexOf(':');
                string user = colon >= 0 ? userInfo.Substring(0, colon) : userInfo;
                if (user.Length > 0) parameters["user"] = Decode(user);
                if (colon >= 0) parameters["password"] = Decode(userInfo.Substring(colon + 1));
            }

            // host[:port][,host[:port]...]; IPv6 addresses in brackets.
            if (authority.Length > 0)
            {
                var hosts = new List<string>();
                var ports = new List<string>();
                foreach (var part in authority.Split(','))
                {
                    string host = part, port = "";
                    if (part.StartsWith("[", StringComparison.Ordinal))
                    {
                        int close = part.IndexOf(']');
                        if (close < 0) throw Invalid("An IPv6 address in the URI has no closing ']'.");
                        host = part.Substring(1, close - 1);
                        if (close + 1 < part.Length && part[close + 1] == ':') port = part.Substring(close + 2);
                    }
                    else
                    {
                        int colon = part.LastIndexOf(':');
                        if (colon >= 0)
                        {
                            host = part.Substring(0, colon);
                            port = part.Substring(colon + 1);
                        }
                    }
                    hosts.Add(Decode(host));
                    ports.Add(port);
                }
                if (hosts.Any(h => h.Length > 0)) parameters["host"] = string.Join(",", hosts);
                if (ports.Any(p => p.Length > 0)) parameters["port"] = string.Join(",", ports);
            }
            if (path.Length > 0) parameters["dbname"] = Decode(path);

            foreach (var pair in query.Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=');
                if (eq <= 0) throw Invalid($"The URI parameter '{pair}' has no value.");
                string key = Decode(pair.Substring(0, eq));
                string value = Decode(pair.Substring(eq + 1));
                // libpq accepts JDBC-style ssl=true as sslmode=require.
                if (key == "ssl" && value == "true") { key = "sslmode"; value = "require"; }
                parameters[key] = value;
            }
        }

        private static string Decode(string s)
        {
            try { return Uri.UnescapeDataString(s); }
            catch (UriFormatException) { throw Invalid("The URI has an invalid percent-encoding."); }
        }

        private static void ParseKeyValue(string text, IDictionary<string, string> parameters)
        {
            int i = 0;
            while (true)
            {
                while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
                if (i >= text.Length) break;
                int keyStart = i;
                while (i < text.Length && text[i] != '=' && !char.IsWhiteSpace(text[i])) i++;
                string key = text.Substring(keyStart, i - keyStart);
                while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
                if (i >= text.Length || text[i] != '=')
                    throw Invalid($"Missing '=' after '{key}' in the connection string.");
                i++;
                while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
                var value = new StringBuilder();
                if (i < text.Length && text[i] == '\'')
                {
                    i++;
                    bool closed = false;
                    while (i < text.Length)
                    {
                        char c = text[i++];
                        if (c == '\\' && i < text.Length) { value.Append(text[i++]); continue; }
                        if (c == '\'') { closed = true; break; }
                        value.Append(c);
                    }
                    if (!closed) throw Invalid($"Unterminated quoted value for '{key}' in the connection string.");
                }
                else
                {
                    while (i < text.Length && !char.IsWhiteSpace(text[i]))
                    {
                        char c = text[i++];
                        if (c == '\\' && i < text.Length) c = text[i++];
                        value.Append(c);
                    }
                }
                if (key.Length == 0) throw Invalid("The connection string has an empty keyword.");
                parameters[key] = value.ToString();
            }
        }

        public PgConnectionInfo With(string keyword, string? value)
        {
            if (keyword == "password") return WithPassword(value);
            var copy = new SortedDictionary<string, string>(_parameters, StringComparer.Ordinal);
            if (value is null) copy.Remove(keyword); else copy[keyword] = value;
            return new PgConnectionInfo(copy, Password);
        }

        public PgConnectionInfo WithPassword(string? password) =>
            new PgConnectionInfo(new SortedDictionary<string, string>(_parameters, StringComparer.Ordinal), string.IsNullOrEmpty(password) ? null : password);

        public PgConnectionInfo WithDatabase(string database) => With("dbname", database);

        /// <summary>
        /// Neon's connection pooler (PgBouncer, host <c>ep-x-pooler.region...</c>) cannot serve pg_dump; returns the
        /// direct host instead, or this object when the host is not a pooler host.
        /// </summary>
        public PgConnectionInfo WithoutNeonPooler(out bool changed)
        {
            changed = false;
            var host = Get("host");
            if (host is null) return this;
            var hosts = host.Split(',');
            for (int i = 0; i < hosts.Length; i++)
            {
                var direct = NeonDirectHost(hosts[i]);
                if (direct != hosts[i]) { hosts[i] = direct; changed = true; }
            }
            return changed ? With("host", string.Join(",", hosts)) : this;
        }

        /// <summary>The direct host for a Neon <c>-pooler</c> host name; any other host unchanged.</summary>
        public static string NeonDirectHost(string host)
        {
            int dot = host.IndexOf('.');
            string first = dot >= 0 ? host.Substring(0, dot) : host;
            if (first.StartsWith("ep-", StringComparison.OrdinalIgnoreCase) &&
                first.EndsWith("-pooler", StringComparison.OrdinalIgnoreCase) &&
                host.IndexOf(".neon.", StringComparison.OrdinalIgnoreCase) > 0)
                return first.Substring(0, first.Length - "-pooler".Length) + (dot >= 0 ? host.Substring(dot) : "");
            return host;
        }

        /// <summary>
        /// The libpq conninfo string for a child process's <c>--dbname</c>: every parameter but the password, which
        /// goes through the environment (<see cref="ChildEnvironment"/>).
        /// </summary>
        public string ToLibpqConninfo()
        {
            // Not ASCII (a database named Lagerbestände): a URI, percent-encoded, which libpq decodes to the UTF-8 bytes
            // itself. Windows would hand the plain form to the tool in the ANSI code page (AnsiArguments).
            if (_parameters.Any(kv => !IsSecretKeyword(kv.Key) && !AnsiArguments.IsAscii(kv.Value)))
                return "postgresql://?" + string.Join("&", _parameters.Where(kv => !IsSecretKeyword(kv.Key))
                    .Select(kv => Uri.EscapeDataString(kv.Key) + "=" + Uri.EscapeDataString(kv.Value)));
            var sb = new StringBuilder();
            foreach (var kv in _parameters)
            {
                if (IsSecretKeyword(kv.Key)) continue;
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(kv.Key).Append("='").Append(kv.Value.Replace("\\", "\\\\").Replace("'", "\\'")).Append('\'');
            }
            return sb.ToString();
        }

        /// <summary>Environment entries a child libpq tool needs: the password, never on its command line.</summary>
        public IReadOnlyDictionary<string, string> ChildEnvironment()
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Password is not null) env["PGPASSWORD"] = Password;
            return env;
        }

        internal static bool IsSecretKeyword(string keyword) => keyword == "password" || keyword == "sslpassword";

        /// <summary>All secrets this connection holds, for <see cref="Redactor"/>.</summary>
        public IEnumerable<string> Secrets()
        {
            if (Password is not null) yield return Password;
            if (_parameters.TryGetValue("sslpassword", out var s) && s.Length > 0) yield return s;
        }

        /// <summary>A URI without any secret, for messages and manifests.</summary>
        public override string ToString()
        {
            var sb = new StringBuilder("postgresql://");
            if (User is not null) sb.Append(Uri.EscapeDataString(User)).Append('@');
            var host = Host ?? "";
            sb.Append(host.Contains(":") && !host.Contains(",") ? "[" + host + "]" : host);
            if (PortText is not null) sb.Append(':').Append(PortText);
            if (Database is not null) sb.Append('/').Append(Uri.EscapeDataString(Database));
            var extra = _parameters.Where(kv => kv.Key is not ("host" or "hostaddr" or "port" or "user" or "dbname") && !IsSecretKeyword(kv.Key)).ToList();
            for (int i = 0; i < extra.Count; i++)
                sb.Append(i == 0 ? '?' : '&').Append(Uri.EscapeDataString(extra[i].Key)).Append('=').Append(Uri.EscapeDataString(extra[i].Value));
            return sb.ToString();
        }
    }
}
