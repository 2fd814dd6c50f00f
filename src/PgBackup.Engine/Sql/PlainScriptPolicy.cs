using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace PgBackup
{
    /// <summary>What a restore does with a statement the policy accepted.</summary>
    public enum StatementAction
    {
        /// <summary>Sent to the server as it is (one statement per protocol message).</summary>
        Execute,
        /// <summary>A session setting (<c>SET</c>, <c>set_config</c>): applied on every connection the restore uses.</summary>
        Setting,
        /// <summary><c>COPY ... FROM stdin</c>: the lines after it are the table's data.</summary>
        Copy,
        /// <summary>An <c>INSERT ... VALUES</c> of literals (pg_dump <c>--inserts</c>).</summary>
        Insert,
        /// <summary><c>BEGIN</c>: the statements up to <c>COMMIT</c> run as one transaction on one connection.</summary>
        Begin,
        Commit,
        /// <summary>Read and checked, not run: <c>-C</c>'s database creation, which the restore does itself.</summary>
        Skip,
    }

    /// <summary>What the policy found a statement to be.</summary>
    public sealed class StatementInfo
    {
        public StatementAction Action { get; init; }
        /// <summary>The row of <see cref="PlainScriptPolicy.Rules"/> that accepted (or refused) it.</summary>
        public string Rule { get; init; } = "";
        /// <summary>Why it is refused; null when accepted.</summary>
        public string? Refusal { get; init; }
        /// <summary>The table a COPY, INSERT or post-data statement is about (<c>schema.name</c>, as the server reads it).</summary>
        public TableRowCount? Table { get; init; }
        /// <summary>The objects it locks, for running statements side by side; null: it runs alone, in order.</summary>
        public string[]? Resources { get; init; }
        /// <summary>Changes an owner (<c>ALTER ... OWNER TO</c>, <c>SET SESSION AUTHORIZATION</c>): left out with -NoOwner.</summary>
        public bool OwnerChange { get; init; }
        /// <summary>A grant or revoke: left out with -NoPrivileges.</summary>
        public bool Privilege { get; init; }
        /// <summary>A foreign key: left out when only one table's data is restored.</summary>
        public bool ForeignKey { get; init; }
        /// <summary>Table data, a sequence value or a large object: left out for other tables when only one table's data is wanted.</summary>
        public bool Data { get; init; }
        /// <summary>A setting's name (lower case).</summary>
        public string? Setting { get; init; }
        /// <summary>Whether a setting is sent to the server (client_encoding is not: PgBackup converts the text itself).</summary>
        public bool SendToServer { get; init; } = true;
        /// <summary>The COPY command PgBackup sends: rebuilt from the names it read, nothing else of the statement.</summary>
        public string? CopyCommand { get; init; }
        /// <summary>COPY: the table as the statement names it (for statements PgBackup adds, such as TRUNCATE before FREEZE).</summary>
        public string? CopyTarget { get; init; }
        /// <summary>
        /// COPY: the script itself created this table with CREATE TABLE (schema-qualified, not partitioned). In a
        /// database PgBackup created for the restore, its data loads with COPY FREEZE.
        /// </summary>
        public bool CreatedHere { get; init; }
        /// <summary>INSERT: the rows it inserts.</summary>
        public long Rows { get; init; }
        /// <summary>-C: the token that names the dumped database, to be replaced by the database restored into.</summary>
        public int DatabaseNameToken { get; init; } = -1;
        /// <summary>A post-data statement that builds an index or a key (progress).</summary>
        public bool BuildsIndex { get; init; }
    }

    /// <summary>
    /// Which statements and meta-commands a plain script may hold: exactly what pg_dump (12 to 18) writes into a dump
    /// of one database, with its options. Everything else refuses the whole script. The statement kinds are one table,
    /// <see cref="Rules"/>, each row with an example that its test runs. The policy also follows the script's state
    /// that changes how it reads: the client encoding (only encodings whose bytes keep ASCII meaning ASCII),
    /// <c>standard_conforming_strings</c> (only on), and <c>-C</c>'s <c>\connect</c>.
    /// <para>
    /// What it does not stop, and cannot while restoring pg_dump's output faithfully: SQL that pg_dump does write, such
    /// as functions and the index expressions, triggers or views that call them, runs on the server as the restoring
    /// role. Sign backups and verify them (issue of stored files), and restore untrusted files with a role that cannot
    /// do harm.
    /// </para>
    /// </summary>
    public sealed class PlainScriptPolicy
    {
        /// <summary>A row of the table of statement kinds.</summary>
        public sealed class Rule
        {
            public Rule(string name, string example, Func<SqlStatement, PlainScriptPolicy, StatementInfo?> match)
            {
                Name = name;
                Example = example;
                Match = match;
            }

            public string Name { get; }
            /// <summary>A statement the row decides (as pg_dump writes it, or for a refusal, as an attacker would).</summary>
            public string Example { get; }
            internal Func<SqlStatement, PlainScriptPolicy, StatementInfo?> Match { get; }
        }

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        private readonly Dictionary<string, string> _indexTables = new Dictionary<string, string>(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _partitionParents = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>
        /// Partitions and their parents as the script attaches them (<c>ALTER TABLE parent ATTACH PARTITION child</c>,
        /// <c>CREATE TABLE child PARTITION OF parent</c>), by qualified name: row counts of a partition tree loaded
        /// through its root (<c>--load-via-partition-root</c>) are compared for the tree as a whole.
        /// </summary>
        public IReadOnlyDictionary<string, string> PartitionParents => _partitionParents;

        /// <summary>
        /// True when <paramref name="table"/> is <paramref name="of"/>, a partition below it, or a partitioned table above
        /// it (whose data, loaded through the root, holds rows of <paramref name="of"/>), as far as the script says.
        /// </summary>
        public bool InPartitionLine(string table, string of) => Ancestry(table).Contains(of) || Ancestry(of).Contains(table);

        private IEnumerable<string> Ancestry(string table)
        {
            yield return table;
            for (int depth = 0; depth < 64 && _partitionParents.TryGetValue(table, out var parent); depth++) yield return table = parent;
        }

        /// <summary>The top of the partition tree <paramref name="table"/> is in, as far as the script says, or null.</summary>
        public string? PartitionRoot(string table)
        {
            string? root = null;
            for (int depth = 0; depth < 64 && _partitionParents.TryGetValue(root ?? table, out var parent); depth++) root = parent;
            if (root is null && _partitionParents.ContainsValue(table)) root = table;
            return root;
        }
        private bool _createDatabaseSeen;
        private bool _connected;
        private bool _encodingSwitched;
        private string? _dumpDatabase;
        private readonly HashSet<string> _createdTables = new HashSet<string>(StringComparer.Ordinal);
        private long _statementsRun;

        /// <summary>A policy for a script whose client encoding is <paramref name="encodingName"/> from its start (UTF8 by default).</summary>
        public PlainScriptPolicy(string? encodingName = null)
        {
            if (encodingName is null || encodingName == "UTF8") return;
            if (!AsciiSafeEncodings.TryGetValue(encodingName, out var codePage))
                throw new ArgumentException($"{encodingName} is not an encoding a script may be in.", nameof(encodingName));
            Encoding = EncodingFor(encodingName, codePage);
            EncodingName = encodingName;
        }

        /// <summary>The script's client encoding (UTF-8 until a <c>SET client_encoding</c> says otherwise).</summary>
        public Encoding Encoding { get; private set; } = StrictUtf8;
        public string EncodingName { get; private set; } = "UTF8";

        /// <summary>Decides one statement; updates the script's state (encoding, -C).</summary>
        public StatementInfo Classify(SqlStatement st)
        {
            foreach (var rule in Rules)
            {
                var info = rule.Match(st, this);
                if (info is null) continue;
                if (info.Refusal is null && _encodingSwitched && !_connected && info.Action != StatementAction.Skip)
                    return Refuse(rule.Name, "a statement between psql's \\encoding and \\connect, where pg_dump writes none");
                if (info.Refusal is null && _createDatabaseSeen && !_connected && info.Action != StatementAction.Skip && info.Action != StatementAction.Setting)
                    return Refuse(rule.Name, "a statement after CREATE DATABASE and before \\connect, where pg_dump writes only the database's owner");
                if (info.Refusal is null && info.Action != StatementAction.Skip && info.Action != StatementAction.Setting) _statementsRun++;
                return info;
            }
            return Refuse("other", $"'{st.Describe(3)}' is not a statement pg_dump writes into a database's dump");
        }

        /// <summary>Decides a psql meta-command line; null when it is one pg_dump writes (and nothing is run for it).</summary>
        public string? CheckMetaCommand(string line)
        {
            var parts = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            var command = parts.Length > 0 ? parts[0] : line;
            switch (command)
            {
                case "\\restrict":
                case "\\unrestrict":
                    // pg_dump 17.6/16.10/15.14/14.19/13.22 and later: a random key of letters and digits.
                    if (parts.Length == 2 && parts[1].Length is > 0 and <= 64 && parts[1].All(c => c < 128 && char.IsLetterOrDigit(c))) return null;
                    return $"{command} with anything but a key of letters and digits";
                case "\\connect":
                    return Connect(line.Substring(command.Length).Trim());
                case "\\encoding":
                    if (parts.Length == 2 && parts[1] == "SQL_ASCII" && _createDatabaseSeen && !_connected) { _encodingSwitched = true; return null; }
                    return "\\encoding other than pg_dump's \\encoding SQL_ASCII before \\connect";
                default:
                    return $"the psql meta-command {(command.Length > 20 ? command.Substring(0, 20) : command)}, which pg_dump does not write";
            }
        }

        private string? Connect(string argument)
        {
            if (!_createDatabaseSeen) return "\\connect in a script that did not create its database (pg_dump writes it only with -C, after CREATE DATABASE)";
            const string reuse = "-reuse-previous=on ";
            if (argument.StartsWith(reuse, StringComparison.Ordinal)) argument = argument.Substring(reuse.Length).TrimStart();
            var name = ConnectTarget(argument);
            if (name is null || !string.Equals(name, _dumpDatabase, StringComparison.Ordinal))
                return $"\\connect to a database other than the one the script created ('{_dumpDatabase}')";
            _connected = true;
            _encodingSwitched = false;
            return null;
        }

        /// <summary>
        /// The database named by pg_dump's <c>\connect</c> argument: a plain name, a quoted name, or a quoted
        /// <c>dbname='...'</c> connection string (appendPsqlMetaConnect in PostgreSQL's fe_utils).
        /// </summary>
        internal static string? ConnectTarget(string arg)
        {
            string value;
            if (arg.Length >= 2 && arg[0] == '"' && arg[arg.Length - 1] == '"')
                value = arg.Substring(1, arg.Length - 2).Replace("\"\"", "\"");
            else if (arg.All(c => c < 128 && (char.IsLetterOrDigit(c) || c == '_' || c == '.')))
                value = arg.ToLowerInvariant() == arg ? arg : arg.ToLowerInvariant();
            else return null;
            if (!value.StartsWith("dbname=", StringComparison.Ordinal)) return value;
            var v = value.Substring("dbname=".Length);
            if (v.Length >= 2 && v[0] == '\'' && v[v.Length - 1] == '\'')
            {
                var sb = new StringBuilder();
                for (int k = 1; k < v.Length - 1; k++)
                {
                    if (v[k] == '\\' && k + 1 < v.Length - 1) k++;
                    sb.Append(v[k]);
                }
                return sb.ToString();
            }
            return v.IndexOfAny(new[] { ' ', '\'', '\\' }) >= 0 ? null : v;
        }

        private static StatementInfo Refuse(string rule, string reason) => new StatementInfo { Rule = rule, Refusal = reason };
        private static StatementInfo Accept(string rule, StatementAction action = StatementAction.Execute) => new StatementInfo { Rule = rule, Action = action };

        // ---------------------------------------------------------------------------------------------------------
        // The table of statement kinds. Order matters: the first row that decides a statement wins.
        // ---------------------------------------------------------------------------------------------------------

        /// <summary>The statement kinds a plain script may hold, and the refusals worth naming.</summary>
        public static readonly IReadOnlyList<Rule> Rules = new[]
        {
            new Rule("SET setting", "SET statement_timeout = 0", (s, p) => p.SetStatement(s)),
            new Rule("SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION 'alice'", (s, p) => SessionAuthorization(s)),
            new Rule("set_config search_path", "SELECT pg_catalog.set_config('search_path', '', false)", (s, p) => SetConfig(s, p)),
            new Rule("COPY FROM stdin", "COPY public.users (id, name) FROM stdin", (s, p) => p.CopyFromStdin(s)),
            new Rule("INSERT VALUES", "INSERT INTO public.users (id, name) OVERRIDING SYSTEM VALUE VALUES (1, 'a'), (2, NULL) ON CONFLICT DO NOTHING", (s, p) => p.Insert(s)),
            new Rule("setval", "SELECT pg_catalog.setval('public.users_id_seq', 42, true)", (s, p) => p.SetVal(s)),
            new Rule("large object", "SELECT pg_catalog.lo_open('16385', 131072)", (s, p) => LargeObject(s)),
            new Rule("statistics", "SELECT * FROM pg_catalog.pg_restore_relation_stats('version', '180000'::integer, 'schemaname', 'public', 'relname', 'users', 'relpages', '1'::integer)", (s, p) => Statistics(s)),
            new Rule("BEGIN", "BEGIN", (s, p) => s.TokenCount == 1 && s.IsWord(0, "begin") ? Accept("BEGIN", StatementAction.Begin) : null),
            new Rule("COMMIT", "COMMIT", (s, p) => s.TokenCount == 1 && s.IsWord(0, "commit") ? Accept("COMMIT", StatementAction.Commit) : null),
            new Rule("-C database", "CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8'", (s, p) => p.DatabaseStatement(s)),
            new Rule("-C role setting", "ALTER ROLE alice IN DATABASE app SET search_path TO 'app'", (s, p) => p.RoleInDatabase(s)),
            new Rule("refused: role", "ALTER ROLE alice SUPERUSER", (s, p) => RoleChange(s)),
            new Rule("refused: COPY other", "COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'", (s, p) => s.IsWord(0, "copy") ? Refuse("refused: COPY other", "COPY other than pg_dump's COPY table (columns) FROM stdin") : null),
            new Rule("refused: DO, CALL", "DO $$BEGIN PERFORM 1; END$$", (s, p) => s.IsWord(0, "do") || s.IsWord(0, "call") ? Refuse("refused: DO, CALL", $"{s.TokenText(0, Encoding.ASCII).ToUpperInvariant()}: code pg_dump never runs at restore") : null),
            new Rule("refused: ALTER SYSTEM", "ALTER SYSTEM SET archive_command = 'sh -c x'", (s, p) => s.IsWords(0, "alter", "system") ? Refuse("refused: ALTER SYSTEM", "ALTER SYSTEM, which changes the server's configuration") : null),
            new Rule("refused: SELECT", "SELECT pg_catalog.pg_read_file('/etc/passwd')", (s, p) => s.IsWord(0, "select") ? Refuse("refused: SELECT", "a SELECT of something other than the pg_catalog functions pg_dump writes (set_config, setval, large objects, statistics)") : null),
            new Rule("CREATE object", "CREATE TABLE public.users (id integer NOT NULL, name text)", (s, p) => p.Create(s)),
            new Rule("ALTER object", "ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id)", (s, p) => p.Alter(s)),
            new Rule("DROP object", "DROP TABLE IF EXISTS public.users", (s, p) => Drop(s)),
            new Rule("COMMENT ON", "COMMENT ON TABLE public.users IS 'the users'", (s, p) => p.CommentOrLabel(s, 2)),
            new Rule("SECURITY LABEL", "SECURITY LABEL FOR selinux ON TABLE public.users IS 'system_u:object_r:sepgsql_table_t:s0'", (s, p) => p.SecurityLabel(s)),
            new Rule("GRANT, REVOKE", "GRANT SELECT ON TABLE public.users TO reporting", (s, p) => p.GrantRevoke(s)),
            new Rule("REFRESH MATERIALIZED VIEW", "REFRESH MATERIALIZED VIEW public.daily_totals", (s, p) => s.IsWords(0, "refresh", "materialized", "view") ? Accept("REFRESH MATERIALIZED VIEW") : null),
        };

        // ----- settings -----

        /// <summary>The settings pg_dump 12-18 writes (pg_backup_archiver.c's _doSetFixedOutputState, _selectTablespace, _selectTableAccessMethod).</summary>
        private static readonly HashSet<string> Settings = new HashSet<string>(StringComparer.Ordinal)
        {
            "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "transaction_timeout", "client_encoding",
            "standard_conforming_strings", "check_function_bodies", "xmloption", "client_min_messages", "row_security",
            "default_tablespace", "default_table_access_method",
        };

        /// <summary>Server encodings (and SQL_ASCII): every byte below 0x80 is ASCII in them.</summary>
        private static readonly Dictionary<string, int> AsciiSafeEncodings = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["UTF8"] = 65001, ["UNICODE"] = 65001, ["SQL_ASCII"] = 65001, ["LATIN1"] = 28591, ["LATIN2"] = 28592, ["LATIN3"] = 28593,
            ["LATIN4"] = 28594, ["LATIN5"] = 28599, ["LATIN6"] = 0, ["LATIN7"] = 28603, ["LATIN8"] = 0, ["LATIN9"] = 28605,
            ["LATIN10"] = 0, ["ISO_8859_5"] = 28595, ["ISO_8859_6"] = 28596, ["ISO_8859_7"] = 28597, ["ISO_8859_8"] = 28598,
            ["WIN866"] = 866, ["WIN874"] = 874, ["WIN1250"] = 1250, ["WIN1251"] = 1251, ["WIN1252"] = 1252, ["WIN1253"] = 1253,
            ["WIN1254"] = 1254, ["WIN1255"] = 1255, ["WIN1256"] = 1256, ["WIN1257"] = 1257, ["WIN1258"] = 1258,
            ["KOI8R"] = 20866, ["KOI8U"] = 21866, ["EUC_JP"] = 20932, ["EUC_CN"] = 936, ["EUC_KR"] = 51949, ["EUC_TW"] = 0,
            ["EUC_JIS_2004"] = 0, ["MULE_INTERNAL"] = 0,
        };

        private StatementInfo? SetStatement(SqlStatement s)
        {
            if (!s.IsWord(0, "set")) return null;
            if (s.IsWord(1, "local") || s.IsWord(1, "session") && !s.IsWord(2, "authorization") || s.IsWord(1, "transaction") || s.IsWord(1, "constraints"))
                return Refuse("SET setting", "SET LOCAL, SET SESSION, SET TRANSACTION or SET CONSTRAINTS, which pg_dump does not write");
            if (s.IsWords(1, "session", "authorization")) return null;
            if (!s.IsName(1) || !(s.IsSymbol(2, "=") || s.IsWord(2, "to")) || s.TokenCount < 4)
                return Refuse("SET setting", $"'{s.Describe(3)}' is not a SET as pg_dump writes it");
            var name = s.Identifier(1, Encoding);
            if (!Settings.Contains(name))
                return Refuse("SET setting", $"SET {name}: pg_dump sets only the restore's session settings, never this one");
            // The value: one literal (a number may have a sign).
            for (int k = 3; ;)
            {
                if (s.IsSymbol(k, "-") && k + 1 < s.TokenCount && s[k + 1].Kind == SqlTokenKind.Number) k += 2;
                else if (k < s.TokenCount && s[k].Kind is SqlTokenKind.Word or SqlTokenKind.QuotedIdentifier or SqlTokenKind.String or SqlTokenKind.Number) k++;
                else return Refuse("SET setting", $"SET {name} to a value pg_dump does not write");
                if (k == s.TokenCount) break;
                return Refuse("SET setting", $"SET {name} to a value pg_dump does not write");
            }
            var raw = s.TokenText(3, Encoding);
            var v = s[3].Kind == SqlTokenKind.String ? s.StringValue(3, Encoding) : raw;
            var lower = v.ToLowerInvariant();
            switch (name)
            {
                case "standard_conforming_strings":
                    if (lower is not ("on" or "true")) return Refuse("SET setting", "standard_conforming_strings off: pg_dump writes on, and backslashes in strings would read differently");
                    break;
                case "client_encoding":
                    var upper = v.ToUpperInvariant().Replace("-", "_");
                    if (upper == "UTF_8") upper = "UTF8";
                    if (!AsciiSafeEncodings.TryGetValue(upper, out var codePage))
                        return Refuse("SET setting", $"client_encoding {v}: a client-only encoding whose bytes can hide a backslash or quote (pg_dump writes the database's encoding)");
                    Encoding = EncodingFor(upper, codePage);
                    EncodingName = upper;
                    return new StatementInfo { Rule = "SET setting", Action = StatementAction.Setting, Setting = name, SendToServer = false };
            }
            return new StatementInfo { Rule = "SET setting", Action = StatementAction.Setting, Setting = name };
        }

        private static Encoding EncodingFor(string name, int codePage)
        {
            if (codePage == 65001) return StrictUtf8;
            if (codePage == 0)
                throw new PgBackupException(ErrorIds.RestoreEncodingUnsupported, ErrorKind.NotImplemented,
                    $"The script is in the {name} encoding, which PgBackup cannot convert. Restore it with pg_dump -E UTF8 output, or convert it with iconv first.");
            try
            {
                var provider = CodePages();
                var e = provider?.GetEncoding(codePage, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback)
                        ?? Encoding.GetEncoding(codePage, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
                return e;
            }
            catch (Exception e) when (e is ArgumentException || e is NotSupportedException)
            {
                throw new PgBackupException(ErrorIds.RestoreEncodingUnsupported, ErrorKind.NotImplemented,
                    $"The script is in the {name} encoding, which this .NET runtime cannot convert.", null, e);
            }
        }

        private static EncodingProvider? CodePages()
        {
#if NET8_0_OR_GREATER
            // The code pages ship with .NET; asking the provider directly registers nothing process-wide.
            return CodePagesEncodingProvider.Instance;
#else
            return null;
#endif
        }

        private static StatementInfo? SessionAuthorization(SqlStatement s)
        {
            bool set = s.IsWords(0, "set", "session", "authorization") && s.TokenCount == 4 && (s[3].Kind == SqlTokenKind.String || s.IsName(3));
            bool reset = s.IsWords(0, "reset", "session", "authorization") && s.TokenCount == 3;
            if (!set && !reset) return s.IsWords(0, "set", "session", "authorization") ? Refuse("SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION with more than a role name") : null;
            return new StatementInfo { Rule = "SET SESSION AUTHORIZATION", Action = StatementAction.Setting, Setting = "session authorization", OwnerChange = true };
        }

        private static StatementInfo? SetConfig(SqlStatement s, PlainScriptPolicy p)
        {
            if (!IsCatalogCall(s, 0, "set_config")) return null;
            // SELECT pg_catalog.set_config('search_path', '', false)
            bool ok = s.TokenCount == 11 && s[5].Kind == SqlTokenKind.String && s.StringValue(5, p.Encoding) == "search_path" && s.IsSymbol(6, ",") &&
                      s[7].Kind == SqlTokenKind.String && s.IsSymbol(8, ",") && s.IsWord(9, "false") && s.IsSymbol(10, ")");
            return ok ? new StatementInfo { Rule = "set_config search_path", Action = StatementAction.Setting, Setting = "search_path" }
                      : Refuse("set_config search_path", "set_config of anything but search_path for the session");
        }

        /// <summary><c>SELECT pg_catalog.&lt;function&gt;(</c> at <paramref name="at"/> (tokens 0-4 for at = 0).</summary>
        private static bool IsCatalogCall(SqlStatement s, int at, string function) =>
            s.IsWord(at, "select") && s.IsWord(at + 1, "pg_catalog") && s.IsSymbol(at + 2, ".") && s.IsWord(at + 3, function) && s.IsSymbol(at + 4, "(");

        // ----- data -----

        private StatementInfo? CopyFromStdin(SqlStatement s)
        {
            if (!s.IsWord(0, "copy")) return null;
            int i = 1;
            if (!ReadQualifiedName(s, ref i, out var schema, out var name)) return null;
            var columns = new List<int>();
            if (s.IsSymbol(i, "("))
            {
                i++;
                while (true)
                {
                    if (!s.IsName(i)) return null;
                    columns.Add(i++);
                    if (s.IsSymbol(i, ",")) { i++; continue; }
                    if (s.IsSymbol(i, ")")) { i++; break; }
                    return null;
                }
            }
            if (!(s.IsWords(i, "from", "stdin") && i + 2 == s.TokenCount)) return null;
            var table = new TableRowCount(schema ?? "public", name, 0);
            var target = schema is not null ? s.TokenText(1, Encoding) + "." + s.TokenText(3, Encoding) : s.TokenText(1, Encoding);
            var command = new StringBuilder("COPY ").Append(target);
            if (columns.Count > 0) command.Append(" (").Append(string.Join(", ", columns.Select(c => s.TokenText(c, Encoding)))).Append(')');
            command.Append(" FROM STDIN");
            return new StatementInfo
            {
                Rule = "COPY FROM stdin", Action = StatementAction.Copy, Table = table, Data = true,
                Resources = new[] { table.QualifiedName }, CopyCommand = command.ToString(), CopyTarget = target,
                CreatedHere = schema is not null && _createdTables.Contains(table.QualifiedName),
            };
        }

        private StatementInfo? Insert(SqlStatement s)
        {
            if (!s.IsWords(0, "insert", "into")) return null;
            int i = 2;
            var refuse = Refuse("INSERT VALUES", "an INSERT other than pg_dump's INSERT INTO table [(columns)] VALUES (literals)");
            if (!ReadQualifiedName(s, ref i, out var schema, out var name)) return refuse;
            if (s.IsSymbol(i, "("))
            {
                for (i++; ; i++)
                {
                    if (!s.IsName(i++)) return refuse;
                    if (s.IsSymbol(i, ")")) { i++; break; }
                    if (!s.IsSymbol(i, ",")) return refuse;
                }
            }
            if (s.IsWords(i, "overriding", "system", "value")) i += 3;
            if (s.IsWords(i, "default", "values") && i + 2 == s.TokenCount)
            {
                // A table without columns: one row per statement.
                var empty = new TableRowCount(schema ?? "public", name, 1);
                return new StatementInfo { Rule = "INSERT VALUES", Action = StatementAction.Insert, Table = empty, Rows = 1, Data = true, Resources = new[] { empty.QualifiedName } };
            }
            if (!s.IsWord(i++, "values")) return refuse;
            long rows = 0;
            while (true)
            {
                if (!s.IsSymbol(i++, "(")) return refuse;
                while (true)
                {
                    if (!Literal(s, ref i)) return refuse;
                    if (s.IsSymbol(i, ",")) { i++; continue; }
                    if (s.IsSymbol(i, ")")) { i++; break; }
                    return refuse;
                }
                rows++;
                if (s.IsSymbol(i, ",")) { i++; continue; }
                break;
            }
            if (s.IsWords(i, "on", "conflict", "do", "nothing")) i += 4;
            if (i != s.TokenCount) return refuse;
            var table = new TableRowCount(schema ?? "public", name, rows);
            return new StatementInfo { Rule = "INSERT VALUES", Action = StatementAction.Insert, Table = table, Rows = rows, Data = true, Resources = new[] { table.QualifiedName } };
        }

        /// <summary>A value as pg_dump's --inserts writes one: a number (with sign), a string, a bit string, NULL, DEFAULT, true, false.</summary>
        private static bool Literal(SqlStatement s, ref int i)
        {
            if (i >= s.TokenCount) return false;
            if ((s.IsSymbol(i, "-") || s.IsSymbol(i, "+")) && i + 1 < s.TokenCount && s[i + 1].Kind == SqlTokenKind.Number && !s[i + 1].SpaceBefore)
            {
                i += 2;
                return true;
            }
            var t = s[i];
            if (t.Kind is SqlTokenKind.Number or SqlTokenKind.String or SqlTokenKind.BitString ||
                s.IsWord(i, "null") || s.IsWord(i, "default") || s.IsWord(i, "true") || s.IsWord(i, "false"))
            {
                i++;
                return true;
            }
            return false;
        }

        private StatementInfo? SetVal(SqlStatement s)
        {
            if (!IsCatalogCall(s, 0, "setval")) return null;
            // SELECT pg_catalog.setval('public.users_id_seq', 42, true)
            int i = 7;
            bool ok = s.TokenCount > 7 && s[5].Kind == SqlTokenKind.String && s.IsSymbol(6, ",") && Literal(s, ref i) && s.IsSymbol(i, ",") && (s.IsWord(i + 1, "true") || s.IsWord(i + 1, "false")) && s.IsSymbol(i + 2, ")") && i + 3 == s.TokenCount;
            if (!ok) return Refuse("setval", "setval other than pg_dump's setval('sequence', value, is_called)");
            var sequence = s.StringValue(5, Encoding);
            return new StatementInfo { Rule = "setval", Data = true, Resources = new[] { "sequence:" + sequence } };
        }

        private static StatementInfo? LargeObject(SqlStatement s)
        {
            foreach (var f in new[] { "lo_create", "lo_open", "lowrite", "lo_close", "lo_unlink" })
            {
                if (!IsCatalogCall(s, 0, f)) continue;
                int i = 5;
                bool ok = Literal(s, ref i);
                if (ok && f == "lo_open" || ok && f == "lowrite") ok = s.IsSymbol(i++, ",") && Literal(s, ref i);
                ok = ok && s.IsSymbol(i++, ")") && i == s.TokenCount;
                if (!ok && f == "lo_unlink")
                {
                    // --clean: SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid = '16385'
                    i = 5;
                    ok = s.IsWord(5, "oid") && s.IsSymbol(6, ")") && s.IsWords(7, "from", "pg_catalog") && s.IsSymbol(9, ".") &&
                         s.IsWords(10, "pg_largeobject_metadata", "where", "oid") && s.IsSymbol(13, "=") && s.TokenCount == 15 && s[14].Kind == SqlTokenKind.String;
                }
                return ok ? new StatementInfo { Rule = "large object", Data = true, Resources = new[] { "large objects" } }
                          : Refuse("large object", $"{f} other than as pg_dump writes it");
            }
            return null;
        }

        private static StatementInfo? Statistics(SqlStatement s)
        {
            // PostgreSQL 18: SELECT * FROM pg_catalog.pg_restore_relation_stats('key', value, ...) (and attribute stats).
            if (!(s.IsWords(0, "select") && s.IsSymbol(1, "*") && s.IsWords(2, "from", "pg_catalog") && s.IsSymbol(4, ".") && s.IsSymbol(6, "(")))
                return null;
            if (!(s.IsWord(5, "pg_restore_relation_stats") || s.IsWord(5, "pg_restore_attribute_stats") ||
                  s.IsWord(5, "pg_clear_relation_stats") || s.IsWord(5, "pg_clear_attribute_stats")))
                return null;
            int i = 7;
            while (i < s.TokenCount && !s.IsSymbol(i, ")"))
            {
                if (!Literal(s, ref i)) return Refuse("statistics", "statistics arguments other than literals");
                if (s.IsSymbol(i, "::"))
                {
                    // A type name: words, dots and [] up to the next comma or parenthesis.
                    i++;
                    int start = i;
                    while (i < s.TokenCount && (s[i].Kind == SqlTokenKind.Word || s.IsSymbol(i, ".") || s.IsSymbol(i, "[") || s.IsSymbol(i, "]"))) i++;
                    if (i == start) return Refuse("statistics", "a cast to something other than a type name");
                }
                if (s.IsSymbol(i, ",")) i++;
                else if (!s.IsSymbol(i, ")")) return Refuse("statistics", "statistics arguments other than literals");
            }
            return i == s.TokenCount - 1 ? Accept("statistics") : Refuse("statistics", "text after the statistics call");
        }

        // ----- -C -----

        private StatementInfo? DatabaseStatement(SqlStatement s)
        {
            // Before \connect: CREATE DATABASE, ALTER DATABASE ... OWNER TO, DROP DATABASE (pg_dump -C [--clean]): skipped,
            // the restore creates its own database. After \connect: the database's settings, comment, label and grants,
            // run on the database restored into.
            int nameAt;
            if (s.IsWords(0, "create", "database")) nameAt = 2;
            else if (s.IsWords(0, "drop", "database")) nameAt = s.IsWords(2, "if", "exists") ? 4 : 2;
            else if (s.IsWords(0, "alter", "database")) nameAt = 2;
            else if (s.IsWords(0, "comment", "on", "database")) nameAt = 3;
            else if (s.IsWords(0, "security", "label") && FindWord(s, 2, "on") is int on && s.IsWord(on + 1, "database")) nameAt = on + 2;
            else if ((s.IsWord(0, "grant") || s.IsWord(0, "revoke")) && FindWord(s, 1, "on") is int on2 && s.IsWord(on2 + 1, "database")) nameAt = on2 + 2;
            else if (s.IsWords(0, "update", "pg_catalog") && s.IsSymbol(2, ".") && s.IsWord(3, "pg_database")) nameAt = -1;
            else return null;
            const string rule = "-C database";
            if (nameAt < 0)
            {
                // --clean of a template database: UPDATE pg_catalog.pg_database SET datistemplate = false WHERE datname = '...'
                bool ok = s.IsWords(4, "set", "datistemplate") && s.IsSymbol(6, "=") && s.IsWord(7, "false") && s.IsWords(8, "where", "datname") &&
                          s.IsSymbol(10, "=") && s.TokenCount == 12 && s[11].Kind == SqlTokenKind.String && !_connected;
                return ok ? Accept(rule, StatementAction.Skip) : Refuse(rule, "an UPDATE of the catalog other than pg_dump's datistemplate reset before DROP DATABASE");
            }
            if (!s.IsName(nameAt)) return Refuse(rule, "a database statement pg_dump does not write");
            var name = s.Identifier(nameAt, Encoding);
            if (!_connected)
            {
                if (s.IsWord(0, "create"))
                {
                    if (_createDatabaseSeen || _statementsRun > 0) return Refuse(rule, "CREATE DATABASE after other statements (pg_dump -C writes it first)");
                    _createDatabaseSeen = true;
                    _dumpDatabase = name;
                    return Accept(rule, StatementAction.Skip);
                }
                if (s.IsWord(0, "drop") && nameAt + 1 == s.TokenCount && !_createDatabaseSeen && _statementsRun == 0) return Accept(rule, StatementAction.Skip);
                if (s.IsWord(0, "alter") && _createDatabaseSeen && name == _dumpDatabase && s.IsWords(nameAt + 1, "owner", "to") && nameAt + 4 == s.TokenCount)
                    return Accept(rule, StatementAction.Skip);
                return Refuse(rule, "a database statement outside pg_dump -C's CREATE DATABASE and \\connect");
            }
            if (name != _dumpDatabase || s.IsWord(0, "create") || s.IsWord(0, "drop") || s.IsWords(nameAt + 1, "rename") || s.IsWords(nameAt + 1, "with"))
                return Refuse(rule, $"a statement about the database '{name}' that is not the restored database's setting, comment or grant");
            // The restored database must stay droppable: a dump of a template database does not make it one.
            if (s.IsWords(nameAt + 1, "is_template")) return Accept(rule, StatementAction.Skip);
            bool grant = s.IsWord(0, "grant") || s.IsWord(0, "revoke");
            bool owner = s.IsWords(nameAt + 1, "owner", "to");
            return new StatementInfo { Rule = rule, DatabaseNameToken = nameAt, Privilege = grant, OwnerChange = owner };
        }

        private StatementInfo? RoleInDatabase(SqlStatement s)
        {
            // ALTER ROLE alice IN DATABASE app SET ... (pg_dump -C, after \connect).
            if (!(s.IsWords(0, "alter", "role") && s.IsName(2) && s.IsWords(3, "in", "database") && s.IsName(5))) return null;
            if (!_connected || s.Identifier(5, Encoding) != _dumpDatabase || !(s.IsWord(6, "set") || s.IsWord(6, "reset")))
                return Refuse("-C role setting", "ALTER ROLE ... IN DATABASE outside pg_dump -C's settings of the restored database");
            return new StatementInfo { Rule = "-C role setting", DatabaseNameToken = 5 };
        }

        private static StatementInfo? RoleChange(SqlStatement s)
        {
            bool role = (s.IsWord(0, "create") || s.IsWord(0, "alter") || s.IsWord(0, "drop")) &&
                        (s.IsWord(1, "role") || s.IsWord(1, "group") || s.IsWord(1, "user") && !s.IsWord(2, "mapping"));
            bool owned = (s.IsWord(0, "drop") || s.IsWord(0, "reassign")) && s.IsWord(1, "owned");
            return role || owned ? Refuse("refused: role", "a change of roles (CREATE/ALTER/DROP ROLE, REASSIGN/DROP OWNED), which pg_dump does not write into a database's dump") : null;
        }

        // ----- DDL -----

        /// <summary>Object kinds pg_dump creates, alters, drops, comments on and labels (their first word after the verb).</summary>
        private static readonly HashSet<string> ObjectWords = new HashSet<string>(StringComparer.Ordinal)
        {
            "access", "aggregate", "cast", "collation", "column", "constraint", "conversion", "default", "domain", "event",
            "extension", "foreign", "function", "index", "unique", "language", "procedural", "trusted", "large", "materialized",
            "operator", "policy", "procedure", "publication", "routine", "rule", "schema", "sequence", "server", "statistics",
            "subscription", "table", "unlogged", "text", "transform", "trigger", "type", "user", "view", "recursive",
        };

        private StatementInfo? Create(SqlStatement s)
        {
            if (!s.IsWord(0, "create")) return null;
            const string rule = "CREATE object";
            int i = 1;
            if (s.IsWords(1, "or", "replace")) i = 3;
            if (!IsObjectWord(s, i)) return Refuse(rule, $"CREATE {Word(s, i)}: an object pg_dump does not create in a database's dump");
            if (s.IsWord(i, "table") || s.IsWords(i, "unlogged", "table"))
            {
                // pg_dump writes tables with their columns; CREATE TABLE ... AS would run a query.
                if (FindWordAtDepth0(s, i, "as") >= 0) return Refuse(rule, "CREATE TABLE ... AS, which runs a query (pg_dump writes the columns)");
                // A table that holds its rows itself (not partitioned): its data may load frozen (see StatementInfo.CreatedHere).
                int nameAt = s.IsWord(i, "table") ? i + 1 : i + 2;
                if (FindWordsAtDepth0(s, nameAt, "partition", "by") < 0 && QualifiedKey(s, nameAt) is string created && s.IsSymbol(nameAt + 1, "."))
                    _createdTables.Add(created);
                if (s.IsWords(nameAt, "if", "not", "exists")) nameAt += 3;
                if (QualifiedKey(s, nameAt) is string child && s.IsWords(nameAt + NameLength(s, nameAt), "partition", "of") &&
                    QualifiedKey(s, nameAt + NameLength(s, nameAt) + 2) is string parentTable)
                    _partitionParents[child] = parentTable;
            }
            if (s.IsWord(i, "subscription") && !HasOption(s, i, "connect", "false"))
                return Refuse(rule, "CREATE SUBSCRIPTION without connect = false, which would connect to another server (pg_dump writes connect = false)");
            if (s.IsWords(i, "materialized", "view") && !(s.IsWords(s.TokenCount - 3, "with", "no", "data")))
                return Refuse(rule, "CREATE MATERIALIZED VIEW ... WITH DATA, which runs its query (pg_dump writes WITH NO DATA and refreshes it last)");
            if ((s.IsWord(i, "index") || s.IsWords(i, "unique", "index")) && FindWord(s, i, "on") is int on)
            {
                int t = on + 1;
                if (s.IsWord(t, "only")) t++;
                var table = QualifiedKey(s, t);
                if (table is not null)
                {
                    int nameAt = s.IsWord(i, "unique") ? i + 2 : i + 1;
                    if (s.IsWord(nameAt, "concurrently")) return Refuse(rule, "CREATE INDEX CONCURRENTLY, which pg_dump does not write");
                    if (s.IsWords(nameAt, "if", "not", "exists")) nameAt += 3;
                    if (s.IsName(nameAt)) _indexTables[IndexKey(table, s.Identifier(nameAt, Encoding))] = table;
                    return new StatementInfo { Rule = rule, Resources = new[] { table }, BuildsIndex = true };
                }
            }
            if (s.IsWord(i, "trigger") || s.IsWords(i, "constraint", "trigger") || s.IsWord(i, "policy") || s.IsWord(i, "rule"))
            {
                // CREATE TRIGGER t ... ON table ... [FROM table]; CREATE POLICY p ON table; CREATE RULE r AS ON event TO table.
                int at = s.IsWord(i, "rule") ? FindWord(s, i, "to") ?? -1 : FindWord(s, i, "on") ?? -1;
                var table = at > 0 ? QualifiedKey(s, at + 1) : null;
                if (table is not null)
                {
                    var from = s.IsWords(i, "constraint", "trigger") && FindWord(s, at, "from") is int f ? QualifiedKey(s, f + 1) : null;
                    return new StatementInfo { Rule = rule, Resources = from is null ? new[] { table } : new[] { table, from } };
                }
            }
            if (s.IsWord(i, "statistics") && FindWord(s, i, "from") is int fromAt && QualifiedKey(s, fromAt + 1) is string statsTable && fromAt + 1 + NameLength(s, fromAt + 1) == s.TokenCount)
                return new StatementInfo { Rule = rule, Resources = new[] { statsTable } };
            return Accept(rule);
        }

        private StatementInfo? Alter(SqlStatement s)
        {
            if (!s.IsWord(0, "alter")) return null;
            const string rule = "ALTER object";
            if (s.IsWords(1, "default", "privileges")) return new StatementInfo { Rule = rule, Privilege = true };
            if (!IsObjectWord(s, 1)) return Refuse(rule, $"ALTER {Word(s, 1)}: an object pg_dump does not alter in a database's dump");
            bool owner = s.IsWords(s.TokenCount - 3, "owner", "to");
            if (s.IsWord(1, "table") || s.IsWords(1, "foreign", "table"))
            {
                int t = s.IsWord(1, "table") ? 2 : 3;
                if (s.IsWords(t, "if", "exists")) t += 2;
                if (s.IsWord(t, "only")) t++;
                var table = QualifiedKey(s, t);
                if (table is null) return new StatementInfo { Rule = rule, OwnerChange = owner };
                int after = t + NameLength(s, t);
                bool foreignKey = s.IsWord(after, "add") && FindWords(s, after, "foreign", "key") >= 0;
                bool key = s.IsWord(after, "add") && (FindWords(s, after, "primary", "key") >= 0 || FindWord(s, after, "unique") is not null || FindWord(s, after, "exclude") is not null);
                var resources = new List<string> { table };
                if (foreignKey && FindWord(s, after, "references") is int r && QualifiedKey(s, r + 1) is string referenced && referenced != table) resources.Add(referenced);
                if (key && s.IsWords(after, "add", "constraint") && s.IsName(after + 2)) _indexTables[IndexKey(table, s.Identifier(after + 2, Encoding))] = table;
                if (s.IsWords(after, "attach", "partition") && QualifiedKey(s, after + 2) is string partition)
                {
                    resources.Add(partition);
                    _partitionParents[partition] = table;
                }
                return new StatementInfo { Rule = rule, Resources = resources.ToArray(), OwnerChange = owner, ForeignKey = foreignKey, BuildsIndex = key };
            }
            if (s.IsWord(1, "index") && QualifiedKey(s, 2) is string index && s.IsWords(2 + NameLength(s, 2), "attach", "partition"))
            {
                // ALTER INDEX parent_idx ATTACH PARTITION child_idx: the tables both indexes are on, when known.
                var child = QualifiedKey(s, 4 + NameLength(s, 2));
                if (_indexTables.TryGetValue(index, out var t1) && child is not null && _indexTables.TryGetValue(child, out var t2))
                    return new StatementInfo { Rule = rule, Resources = new[] { t1, t2 } };
            }
            return new StatementInfo { Rule = rule, OwnerChange = owner };
        }

        private static StatementInfo? Drop(SqlStatement s)
        {
            if (!s.IsWord(0, "drop")) return null;
            return IsObjectWord(s, 1) ? Accept("DROP object") : Refuse("DROP object", $"DROP {Word(s, 1)}: an object pg_dump does not drop in a database's dump");
        }

        private StatementInfo? CommentOrLabel(SqlStatement s, int typeAt)
        {
            if (!s.IsWords(0, "comment", "on")) return null;
            return ObjectStatement(s, typeAt, "COMMENT ON");
        }

        private StatementInfo? SecurityLabel(SqlStatement s)
        {
            if (!s.IsWords(0, "security", "label")) return null;
            int i = 2;
            if (s.IsWord(i, "for")) i += 2;
            if (!s.IsWord(i, "on")) return Refuse("SECURITY LABEL", "SECURITY LABEL without ON");
            return ObjectStatement(s, i + 1, "SECURITY LABEL");
        }

        private StatementInfo ObjectStatement(SqlStatement s, int typeAt, string rule)
        {
            if (!IsObjectWord(s, typeAt)) return Refuse(rule, $"{rule} {Word(s, typeAt)}: an object pg_dump does not describe in a database's dump");
            // COMMENT ON INDEX i / CONSTRAINT c ON t / TRIGGER t ON t: ordered with the statements on that table.
            if (s.IsWord(typeAt, "index") && QualifiedKey(s, typeAt + 1) is string index && _indexTables.TryGetValue(index, out var table))
                return new StatementInfo { Rule = rule, Resources = new[] { table } };
            if ((s.IsWord(typeAt, "constraint") || s.IsWord(typeAt, "trigger") || s.IsWord(typeAt, "policy") || s.IsWord(typeAt, "rule")) &&
                s.IsName(typeAt + 1) && s.IsWord(typeAt + 2, "on") && QualifiedKey(s, typeAt + 3) is string on)
                return new StatementInfo { Rule = rule, Resources = new[] { on } };
            return Accept(rule);
        }

        private StatementInfo? GrantRevoke(SqlStatement s)
        {
            if (!(s.IsWord(0, "grant") || s.IsWord(0, "revoke"))) return null;
            const string rule = "GRANT, REVOKE";
            var on = FindWordAtDepth0(s, 1, "on");
            var to = FindWordAtDepth0(s, 1, s.IsWord(0, "grant") ? "to" : "from");
            if (on < 0 || (to >= 0 && to < on))
                return Refuse(rule, "a GRANT or REVOKE of role membership, which pg_dump does not write into a database's dump");
            if (s.IsWord(on + 1, "tablespace") || s.IsWord(on + 1, "parameter"))
                return Refuse(rule, "a grant on a tablespace or server parameter, which pg_dump does not write into a database's dump");
            return new StatementInfo { Rule = rule, Privilege = true };
        }

        // ----- token helpers -----

        private static bool IsObjectWord(SqlStatement s, int i)
        {
            if (i >= s.TokenCount || s[i].Kind != SqlTokenKind.Word) return false;
            if (s.IsWord(i, "user")) return s.IsWord(i + 1, "mapping");
            if (s.IsWord(i, "default")) return s.IsWord(i + 1, "conversion") || s.IsWord(i + 1, "privileges");
            var w = Encoding.ASCII.GetString(s.Buffer, s[i].Start, s[i].Length).ToLowerInvariant();
            return ObjectWords.Contains(w);
        }

        private static string Word(SqlStatement s, int i) =>
            i < s.TokenCount && s[i].Kind == SqlTokenKind.Word ? Encoding.ASCII.GetString(s.Buffer, s[i].Start, Math.Min(s[i].Length, 40)).ToUpperInvariant() : "(no object type)";

        private static int? FindWord(SqlStatement s, int from, string word)
        {
            for (int k = from; k < s.TokenCount; k++) if (s.IsWord(k, word)) return k;
            return null;
        }

        private static int FindWords(SqlStatement s, int from, string first, string second)
        {
            for (int k = from; k + 1 < s.TokenCount; k++) if (s.IsWord(k, first) && s.IsWord(k + 1, second)) return k;
            return -1;
        }

        private static int FindWordsAtDepth0(SqlStatement s, int from, string first, string second)
        {
            for (int k = FindWordAtDepth0(s, from, first); k >= 0; k = FindWordAtDepth0(s, k + 1, first))
                if (s.IsWord(k + 1, second)) return k;
            return -1;
        }

        /// <summary>An option <c>name = value</c> (both words) somewhere after <paramref name="from"/>.</summary>
        private static bool HasOption(SqlStatement s, int from, string name, string value)
        {
            for (int k = from; k + 2 < s.TokenCount; k++)
                if (s.IsWord(k, name) && s.IsSymbol(k + 1, "=") && s.IsWord(k + 2, value)) return true;
            return false;
        }

        private static int FindWordAtDepth0(SqlStatement s, int from, string word)
        {
            int depth = 0;
            for (int k = from; k < s.TokenCount; k++)
            {
                if (s.IsSymbol(k, "(")) depth++;
                else if (s.IsSymbol(k, ")")) depth--;
                else if (depth == 0 && s.IsWord(k, word)) return k;
            }
            return -1;
        }

        /// <summary>Reads <c>name</c> or <c>schema.name</c> at <paramref name="i"/>.</summary>
        private bool ReadQualifiedName(SqlStatement s, ref int i, out string? schema, out string name)
        {
            schema = null;
            name = "";
            if (!s.IsName(i)) return false;
            if (s.IsSymbol(i + 1, ".") && s.IsName(i + 2))
            {
                schema = s.Identifier(i, Encoding);
                name = s.Identifier(i + 2, Encoding);
                i += 3;
                return !s.IsSymbol(i, ".");
            }
            name = s.Identifier(i, Encoding);
            i++;
            return true;
        }

        private static int NameLength(SqlStatement s, int i) => s.IsName(i) && s.IsSymbol(i + 1, ".") && s.IsName(i + 2) ? 3 : s.IsName(i) ? 1 : 0;

        /// <summary>A resource key for the (qualified) name at <paramref name="i"/>, as <see cref="TableRowCount.QualifiedName"/> writes it.</summary>
        private string? QualifiedKey(SqlStatement s, int i)
        {
            int k = i;
            if (!ReadQualifiedName(s, ref k, out var schema, out var name)) return null;
            return PgIdentifier.Qualify(schema ?? "public", name);
        }

        /// <summary>The key of an index (or a key constraint's index), which lives in its table's schema.</summary>
        private static string IndexKey(string tableKey, string index)
        {
            int pos = 0;
            var schema = PgIdentifier.ReadIdentifier(tableKey, ref pos) ?? "public";
            return PgIdentifier.Qualify(schema, index);
        }
    }
}
