using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using Npgsql;

namespace PgBackup
{
    /// <summary>
    /// A connection to a PostgreSQL server for the questions PgBackup asks directly (version, tables, row counts,
    /// creating and renaming databases). Npgsql stays inside the engine: no Npgsql type leaves this class's assembly.
    /// </summary>
    public sealed class PgServer : IDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly Redactor _redactor;

        private PgServer(NpgsqlConnection connection, PgConnectionInfo info, Redactor redactor)
        {
            _connection = connection;
            _redactor = redactor;
            Info = info;
            // PgBackup's own queries (row counts of whole tables, an export's rows) run as long as the data needs, as
            // pg_dump's and pg_restore's do (their setup_connection): a statement_timeout set on the role or database
            // is for its users' sessions, and cancelled the count of a large table or an export.
            using (var unlimited = new NpgsqlCommand("SET statement_timeout = 0", connection)) unlimited.ExecuteNonQuery();
            Version = PgVersion.FromVersionNum(int.Parse(Scalar("SHOW server_version_num")!.ToString()!, System.Globalization.CultureInfo.InvariantCulture));
            VersionText = Scalar("SHOW server_version")?.ToString() ?? Version.ToString();
            Database = Scalar("SELECT current_database()")?.ToString() ?? "";
        }

        public PgConnectionInfo Info { get; }

        private string? _childOptions;
        private bool _childOptionsKnown;

        /// <summary>
        /// <paramref name="info"/> for pg_dump, pg_dumpall and pg_restore on this server: with <c>-c lc_messages=C</c> in
        /// its options when the server's messages are not English and this role may set lc_messages, so that what the
        /// tools relay can be read (<see cref="ServerMessages"/>).
        /// </summary>
        public PgConnectionInfo ForChildTools(PgConnectionInfo info)
        {
            if (!_childOptionsKnown)
            {
                var existing = info.Get("options") ?? Environment.GetEnvironmentVariable("PGOPTIONS");
                _childOptions = ServerMessages.ChildOptions(existing, Scalar("SHOW lc_messages")?.ToString(), CanSetLcMessages());
                _childOptionsKnown = true;
            }
            return _childOptions is null ? info : info.With("options", _childOptions);
        }

        private bool CanSetLcMessages()
        {
            if (string.Equals(Scalar("SHOW is_superuser")?.ToString(), "on", StringComparison.Ordinal)) return true;
            if (Version.Major < 15) return false;
            return Scalar("SELECT pg_catalog.has_parameter_privilege('lc_messages', 'SET')") is true;
        }
        public PgVersion Version { get; }
        /// <summary>The server's own version string, e.g. <c>15.18 (Debian 15.18-0+deb12u1)</c>.</summary>
        public string VersionText { get; }
        public string Database { get; }

        /// <summary>Connects; failures become errors with stable ids (unreachable, authentication, missing database).</summary>
        public static PgServer Connect(PgConnectionInfo info, Redactor redactor, CancellationToken cancellationToken)
        {
            var connection = new NpgsqlConnection(ToNpgsqlConnectionString(info));
            try
            {
                connection.OpenAsync(cancellationToken).GetAwaiter().GetResult();
                return new PgServer(connection, info, redactor);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                connection.Dispose();
                throw Translate(e, info, redactor, "connect to");
            }
        }

        internal static string ToNpgsqlConnectionString(PgConnectionInfo info)
        {
            var b = new NpgsqlConnectionStringBuilder();
            var host = info.Host ?? Environment.GetEnvironmentVariable("PGHOST");
            if (string.IsNullOrEmpty(host))
                host = !RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && Directory.Exists("/var/run/postgresql") ? "/var/run/postgresql" : "localhost";
            b.Host = host;
            var port = info.PortText ?? Environment.GetEnvironmentVariable("PGPORT");
            if (!string.IsNullOrEmpty(port) && int.TryParse(port!.Split(',')[0], out var p)) b.Port = p;
            b.Username = info.User ?? Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName;
            b.Database = info.Database ?? Environment.GetEnvironmentVariable("PGDATABASE") ?? b.Username;
            var password = info.Password ?? Environment.GetEnvironmentVariable("PGPASSWORD");
            if (!string.IsNullOrEmpty(password)) b.Password = password;
            b.ApplicationName = info.Get("application_name") ?? "PgBackup";
            if (info.Get("sslmode") is string ssl)
                b.SslMode = ssl switch
                {
                    "disable" => SslMode.Disable,
                    "allow" => SslMode.Allow,
                    "prefer" => SslMode.Prefer,
                    "require" => SslMode.Require,
                    "verify-ca" => SslMode.VerifyCA,
                    "verify-full" => SslMode.VerifyFull,
                    _ => throw new PgBackupException(ErrorIds.ConnectionStringInvalid, ErrorKind.InvalidArgument, $"sslmode '{ssl}' is not one libpq knows."),
                };
            if (info.Get("sslrootcert") is string root) b.RootCertificate = root;
            if (info.Get("sslcert") is string cert) b.SslCertificate = cert;
            if (info.Get("sslkey") is string key) b.SslKey = key;
            if (info.Get("sslpassword") is string keyPassword) b.SslPassword = keyPassword;
            if (info.Get("connect_timeout") is string timeout && int.TryParse(timeout, out var t) && t > 0) b.Timeout = Math.Min(t, 1024);
            if (info.Get("options") is string options) b.Options = options;
            if (info.Get("target_session_attrs") is string tsa) b.TargetSessionAttributes = tsa;
            b.CommandTimeout = 0;
            b.Pooling = false;
            b.IncludeErrorDetail = false;
            return b.ConnectionString;
        }

        /// <summary>Turns an Npgsql or network failure into a PgBackup error with a stable id and no secret.</summary>
        internal static PgBackupException Translate(Exception e, PgConnectionInfo info, Redactor redactor, string action)
        {
            if (e is PgBackupException pe) return pe;
            string where = $"{info.Server}/{info.Database}";
            string detail = redactor.Redact(e.Message);
            if (e is PostgresException pg)
            {
                switch (pg.SqlState)
                {
                    case "28P01":
                    case "28000":
                        return new PgBackupException(ErrorIds.AuthenticationFailed, ErrorKind.AuthenticationError,
                            $"The server {info.Server} refused the login of '{info.User}': {redactor.Redact(pg.MessageText)}", where, e)
                        { RecommendedAction = "Check the user and password (-Credential, or the password in the connection string)." };
                    case "3D000":
                        return new PgBackupException(ErrorIds.DatabaseNotFound, ErrorKind.ObjectNotFound,
                            $"The database '{info.Database}' does not exist on {info.Server}.", where, e);
                    case "42501":
                        return new PgBackupException(ErrorIds.PermissionDenied, ErrorKind.PermissionDenied,
                            $"Permission denied on {where}: {redactor.Redact(pg.MessageText)}", where, e);
                    case "57P03":
                    case "53300":
                        return new PgBackupException(ErrorIds.ServerUnreachable, ErrorKind.ConnectionError,
                            $"The server {info.Server} does not accept connections now: {redactor.Redact(pg.MessageText)}", where, e);
                }
                return new PgBackupException(ErrorIds.ServerQueryFailed, ErrorKind.InvalidOperation,
                    $"Could not {action} {where}: {redactor.Redact(pg.MessageText)} (SQLSTATE {pg.SqlState})", where, e);
            }
            if (e is NpgsqlException ne && ne.Message.IndexOf("password", StringComparison.OrdinalIgnoreCase) >= 0)
                return new PgBackupException(ErrorIds.AuthenticationFailed, ErrorKind.AuthenticationError,
                    $"The server {info.Server} asks for a password and none was given: {detail}", where, e)
                { RecommendedAction = "Give the password with -Credential or in the connection string." };
            for (var x = e; x is not null; x = x.InnerException)
                if (x is SocketException || x is TimeoutException || x is IOException)
                    return new PgBackupException(ErrorIds.ServerUnreachable, ErrorKind.ConnectionError,
                        $"Could not reach the PostgreSQL server {info.Server}: {redactor.Redact(x.Message)}", where, e)
                    { RecommendedAction = "Check the host and port, that the server runs, and that a firewall lets the connection through." };
            return new PgBackupException(ErrorIds.ServerQueryFailed, ErrorKind.InvalidOperation, $"Could not {action} {where}: {detail}", where, e);
        }

        /// <summary>
        /// The server's databases that take connections, templates left out (what a whole-server backup covers), in
        /// name order. Whether this user may connect to each is not asked here: a database it cannot reach is the
        /// error of that database's backup, not a silent gap.
        /// </summary>
        public List<string> DatabaseNames(CancellationToken cancellationToken) =>
            Query("SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname COLLATE \"C\"", cancellationToken)
                .Select(r => (string)r[0]!).ToList();

        public object? Scalar(string sql, params (string Name, object Value)[] parameters)
        {
            try
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
                var r = cmd.ExecuteScalar();
                return r is DBNull ? null : r;
            }
            catch (Exception e) when (e is NpgsqlException || e is InvalidOperationException)
            {
                throw Translate(e, Info, _redactor, "query");
            }
        }

        public void Execute(string sql, CancellationToken cancellationToken = default, params (string Name, object Value)[] parameters)
        {
            try
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
                using (cancellationToken.Register(() => { try { cmd.Cancel(); } catch (Exception) { } }))
                    cmd.ExecuteNonQuery();
                cancellationToken.ThrowIfCancellationRequested();
            }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && !cancellationToken.IsCancellationRequested)
            {
                throw Translate(e, Info, _redactor, "run a command on");
            }
            catch (Exception e) when (e is NpgsqlException && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        /// <summary>
        /// A batch command whose text reaches the server exactly as given, as one statement (extended protocol: the
        /// server refuses a second one in it). Npgsql 10 sends a batch command's text as it is. Npgsql 8 (the
        /// netstandard2.0 build) parses it for named parameters and refuses a semicolon outside parentheses, which a
        /// SQL-standard function body (BEGIN ATOMIC ... END) holds, unless the command has positional parameters: there
        /// it gets one unused int4 parameter, which PostgreSQL accepts with any statement because Parse declares its type.
        /// </summary>
        internal static NpgsqlBatchCommand Verbatim(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
#if !NET8_0_OR_GREATER
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer, Value = 0 });
#endif
            return command;
        }

        /// <summary>
        /// Runs one statement that came from storage: sent alone in the extended protocol, so the server refuses it if
        /// it holds a second statement (NpgsqlCommand would split one text on its semicolons and run each).
        /// </summary>
        public void ExecuteStatement(string sql, CancellationToken cancellationToken)
        {
            try
            {
                using var batch = new NpgsqlBatch(_connection);
                batch.BatchCommands.Add(Verbatim(sql));
                using (cancellationToken.Register(() => { try { batch.Cancel(); } catch (Exception) { } }))
                    batch.ExecuteNonQuery();
                cancellationToken.ThrowIfCancellationRequested();
            }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException || e is NotSupportedException) && !cancellationToken.IsCancellationRequested)
            {
                throw Translate(e, Info, _redactor, "run a statement on");
            }
        }

        public void Execute(PgCommand command, CancellationToken cancellationToken = default) => Execute(command.Sql, cancellationToken, command.Parameters);

        public List<object?[]> Query(string sql, CancellationToken cancellationToken = default, params (string Name, object Value)[] parameters)
        {
            try
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
                using var cancel = cancellationToken.Register(() => { try { cmd.Cancel(); } catch (Exception) { } });
                using var reader = cmd.ExecuteReader();
                var rows = new List<object?[]>();
                while (reader.Read())
                {
                    var row = new object?[reader.FieldCount];
                    for (int i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                    rows.Add(row);
                }
                cancellationToken.ThrowIfCancellationRequested();
                return rows;
            }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && !cancellationToken.IsCancellationRequested)
            {
                throw Translate(e, Info, _redactor, "query");
            }
            catch (Exception e) when (e is NpgsqlException && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        /// <summary>Rows as (column name, value) pairs in column order.</summary>
        public List<(string Name, object? Value)[]> QueryNamed(string sql, CancellationToken cancellationToken)
        {
            try
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                using var cancel = cancellationToken.Register(() => { try { cmd.Cancel(); } catch (Exception) { } });
                using var reader = cmd.ExecuteReader();
                var rows = new List<(string, object?)[]>();
                while (reader.Read())
                {
                    var row = new (string, object?)[reader.FieldCount];
                    for (int i = 0; i < row.Length; i++)
                    {
                        object? value;
                        try { value = reader.IsDBNull(i) ? null : reader.GetValue(i); }
                        catch (InvalidCastException) { value = reader.GetString(i); }
                        catch (NotSupportedException) { value = reader.GetString(i); }
                        row[i] = (reader.GetName(i), value);
                    }
                    rows.Add(row);
                }
                cancellationToken.ThrowIfCancellationRequested();
                return rows;
            }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && !cancellationToken.IsCancellationRequested)
            {
                throw Translate(e, Info, _redactor, "query");
            }
        }

        /// <summary>
        /// Writes a query's rows as CSV with a header (PostgreSQL's own COPY ... CSV) to <c>path.partial</c>, then puts it
        /// in <paramref name="path"/>'s place in one step (an existing file is replaced, never deleted first); returns the
        /// row count. A file that cannot be written or replaced (open in Excel, read-only) is an ExportFailed error, and
        /// no <c>.partial</c> is left.
        /// </summary>
        public long CopyOutCsv(string sql, string path, CancellationToken cancellationToken)
        {
            var temp = path + ".partial";
            try
            {
                using (var reader = _connection.BeginTextExport($"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"))
                using (var writer = new System.IO.StreamWriter(temp, false, new System.Text.UTF8Encoding(false)))
                {
                    var buffer = new char[1 << 16];
                    int n;
                    while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        writer.Write(buffer, 0, n);
                    }
                }
                FileCommit.Run(() =>
                {
                    if (System.IO.File.Exists(path)) System.IO.File.Replace(temp, path, null);
                    else System.IO.File.Move(temp, path);
                }, cancellationToken);
                var count = Scalar($"SELECT count(*) FROM ({sql}) AS q");
                return Convert.ToInt64(count, System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception e) when ((e is System.IO.IOException || e is UnauthorizedAccessException) && !cancellationToken.IsCancellationRequested)
            {
                FileCommit.TryDeleteFile(temp);
                throw new PgBackupException(ErrorIds.ExportFailed, ErrorKind.WriteError, $"Could not write {path}: {e.Message}", path, e)
                {
                    RecommendedAction = "Close the file if another program has it open (Excel keeps a CSV locked while it shows it), or give another -OutFile.",
                };
            }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && !cancellationToken.IsCancellationRequested)
            {
                FileCommit.TryDeleteFile(temp);
                throw Translate(e, Info, _redactor, "export from");
            }
            catch
            {
                FileCommit.TryDeleteFile(temp);
                throw;
            }
        }

        /// <summary>
        /// Starts a read-only repeatable-read transaction and exports its snapshot, so that pg_dump
        /// (<c>--snapshot</c>) and PgBackup's row counts see exactly the same data.
        /// </summary>
        public string ExportSnapshot()
        {
            Execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            Execute("SET LOCAL row_security = off");
            return Scalar("SELECT pg_export_snapshot()")?.ToString()
                ?? throw new PgBackupException(ErrorIds.ServerQueryFailed, ErrorKind.InvalidOperation, "The server returned no snapshot.");
        }

        /// <summary>Exact row counts (<c>count(*) FROM ONLY</c>) of the tables with the given OIDs, in this transaction.</summary>
        public List<TableRowCount> CountRowsByOid(IReadOnlyCollection<uint> oids, CancellationToken cancellationToken)
        {
            var result = new List<TableRowCount>();
            if (oids.Count == 0) return result;
            var rows = Query(
                "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
                "WHERE c.oid::bigint = ANY(@oids) ORDER BY n.nspname, c.relname",
                cancellationToken, ("oids", oids.Select(o => (long)o).ToArray()));
            foreach (var row in rows)
            {
                var schema = (string)row[0]!;
                var name = (string)row[1]!;
                var count = Convert.ToInt64(Scalar(PgSql.CountRows(schema, name)), System.Globalization.CultureInfo.InvariantCulture);
                result.Add(new TableRowCount(schema, name, count));
                cancellationToken.ThrowIfCancellationRequested();
            }
            return result;
        }

        /// <summary>Exact row counts of the given tables (by schema and name) as they are now; missing tables have -1.</summary>
        public List<TableRowCount> CountRows(IEnumerable<TableRowCount> tables, CancellationToken cancellationToken)
        {
            try { return CountRows(_connection, tables, cancellationToken); }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && !cancellationToken.IsCancellationRequested)
            {
                throw Translate(e, Info, _redactor, "count the rows of");
            }
        }

        /// <summary>
        /// Exact row counts on <paramref name="connection"/> (in whatever transaction it is in: say so with
        /// <paramref name="inTransaction"/>); missing tables have -1.
        /// </summary>
        internal static List<TableRowCount> CountRows(NpgsqlConnection connection, IEnumerable<TableRowCount> tables, CancellationToken cancellationToken,
            bool inTransaction = false)
        {
            var result = new List<TableRowCount>();
            using (var off = new NpgsqlCommand("SET row_security = off", connection)) off.ExecuteNonQuery();
            var rls = new RowSecurity(connection, inTransaction);
            foreach (var t in tables)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long rows = -1;
                if (rls.Exists(t.QualifiedName, out bool forced))
                    rows = rls.Count(PgSql.CountRows(t.Schema, t.Name), t.Schema, t.Name, forced);
                result.Add(new TableRowCount(t.Schema, t.Name, rows));
            }
            return result;
        }

        /// <summary>
        /// Counting with row_security off, as pg_dump reads: a table with FORCE ROW LEVEL SECURITY applies its policies to
        /// its owner too, and row_security = off then refuses the query for a role that is neither superuser nor
        /// BYPASSRLS (a cloud provider's admin role). PgBackup restored the table, so it owns it: it lifts FORCE for the
        /// count alone, in a transaction (or savepoint) that it rolls back, so the table keeps it.
        /// </summary>
        private sealed class RowSecurity
        {
            private readonly NpgsqlConnection _connection;
            private readonly bool _inTransaction;
            private readonly bool _bypass;

            public RowSecurity(NpgsqlConnection connection, bool inTransaction)
            {
                _connection = connection;
                _inTransaction = inTransaction;
                using var cmd = new NpgsqlCommand("SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user", connection);
                _bypass = cmd.ExecuteScalar() is true;
            }

            /// <summary>Whether the table exists, and whether its policies apply to its owner (ENABLE and FORCE).</summary>
            public bool Exists(string qualified, out bool forced)
            {
                using var cmd = new NpgsqlCommand("SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(@q)", _connection);
                cmd.Parameters.AddWithValue("q", qualified);
                var value = cmd.ExecuteScalar();
                forced = value is true && !_bypass;
                return value is bool;
            }

            public long Count(string sql, string schema, string name, bool forced)
            {
                if (!forced) return Scalar(sql);
                Run(_inTransaction ? "SAVEPOINT pgbackup_count" : "BEGIN");
                try
                {
                    Run(PgSql.ForceRowSecurity(schema, name, false));
                    return Scalar(sql);
                }
                finally
                {
                    if (_inTransaction)
                    {
                        Run("ROLLBACK TO SAVEPOINT pgbackup_count");
                        Run("RELEASE SAVEPOINT pgbackup_count");
                    }
                    else Run("ROLLBACK");
                }
            }

            private long Scalar(string sql)
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }

            private void Run(string sql)
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                cmd.ExecuteNonQuery();
            }
        }

        /// <summary>
        /// Counts the rows of <paramref name="expected"/>'s tables as they are now and compares (partition trees as a
        /// whole where a table of one differs: see <see cref="RowCountComparer"/>); the counts of a tree compared as a
        /// whole are reported as its root's.
        /// </summary>
        public (List<TableRowCount> Actual, List<string> Differences) CheckRows(IReadOnlyCollection<TableRowCount> expected, CancellationToken cancellationToken)
        {
            try { return CheckRows(_connection, expected, cancellationToken); }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && !cancellationToken.IsCancellationRequested)
            {
                throw Translate(e, Info, _redactor, "count the rows of");
            }
        }

        /// <summary><see cref="CheckRows(IReadOnlyCollection{TableRowCount}, CancellationToken)"/> on <paramref name="connection"/>, in its transaction.</summary>
        internal static (List<TableRowCount> Actual, List<string> Differences) CheckRows(NpgsqlConnection connection, IReadOnlyCollection<TableRowCount> expected,
            CancellationToken cancellationToken, bool inTransaction = false)
        {
            var actual = CountRows(connection, expected, cancellationToken, inTransaction);
            RowSecurity? rls = null;
            var roots = new Dictionary<string, TableRowCount?>(StringComparer.Ordinal);
            var trees = new Dictionary<string, TableRowCount>(StringComparer.Ordinal);
            TableRowCount? Root(string table)
            {
                if (roots.TryGetValue(table, out var known)) return known;
                TableRowCount? root = null;
                // pg_partition_root: PostgreSQL 12 and later (older servers' partitions are compared one by one).
                if (connection.PostgreSqlVersion.Major >= 12)
                {
                    using var cmd = new NpgsqlCommand(
                        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
                        "WHERE c.oid = pg_catalog.pg_partition_root(pg_catalog.to_regclass(@q))", connection);
                    cmd.Parameters.AddWithValue("q", table);
                    using var reader = cmd.ExecuteReader();
                    if (reader.Read()) root = new TableRowCount(reader.GetString(0), reader.GetString(1), 0);
                }
                roots[table] = root;
                return root;
            }
            long TreeRows(string rootName)
            {
                var root = roots.Values.First(r => r is not null && r.QualifiedName == rootName)!;
                rls ??= new RowSecurity(connection, inTransaction);
                rls.Exists(root.QualifiedName, out bool forced);
                root.Rows = rls.Count(PgSql.CountTreeRows(root.Schema, root.Name), root.Schema, root.Name, forced);
                trees[rootName] = root;
                cancellationToken.ThrowIfCancellationRequested();
                return root.Rows;
            }
            var diffs = RowCountComparer.Differences(expected, actual, t => Root(t)?.QualifiedName, TreeRows);
            if (trees.Count > 0)
            {
                actual = actual.Where(t => !(Root(t.QualifiedName) is TableRowCount r && trees.ContainsKey(r.QualifiedName))).ToList();
                foreach (var tree in trees.Values)
                    if (!actual.Any(t => t.QualifiedName == tree.QualifiedName)) actual.Add(new TableRowCount(tree.Schema, tree.Name, tree.Rows));
            }
            return (actual, diffs);
        }

        /// <summary>
        /// The tables that hold the rows of a table or route rows into it: itself, the partitions
        /// below it, and the partitioned tables above it (PostgreSQL 12 and later; before, itself alone).
        /// </summary>
        public List<TableRowCount> PartitionLine(string schema, string name, CancellationToken cancellationToken)
        {
            var result = new List<TableRowCount> { new TableRowCount(schema, name, 0) };
            if (Version.Major < 12) return result;
            var qualified = PgIdentifier.Qualify(schema, name);
            AddRelations(result, "pg_catalog.pg_partition_tree", qualified, below: false, cancellationToken);
            AddRelations(result, "pg_catalog.pg_partition_ancestors", qualified, below: false, cancellationToken);
            return result;
        }

        /// <summary>
        /// The partitions below the partitioned tables that the pg_dump patterns <paramref name="patterns"/> name
        /// (PostgreSQL 12 and later), as qualified names: pg_dump's -t leaves them out before --table-and-children.
        /// </summary>
        public List<TableRowCount> PartitionsOfMatches(IEnumerable<string> patterns, CancellationToken cancellationToken)
        {
            var result = new List<TableRowCount>();
            if (Version.Major < 12) return result;
            var matchers = patterns.Select(PgBackup.Native.NamePattern.ForRelation).ToList();
            var partitioned = Query(
                "SELECT n.nspname, c.relname, pg_catalog.pg_table_is_visible(c.oid) FROM pg_catalog.pg_class c " +
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'p'", cancellationToken);
            foreach (var row in partitioned)
                if (matchers.Any(m => m.MatchesRelation((string)row[0]!, (string)row[1]!, (bool)row[2]!)))
                    AddRelations(result, "pg_catalog.pg_partition_tree", PgIdentifier.Qualify((string)row[0]!, (string)row[1]!), below: true, cancellationToken);
            return result;
        }

        /// <summary>The relations a partition function (pg_partition_tree, pg_partition_ancestors) lists for a table, added once each; <paramref name="below"/>: without the table itself.</summary>
        private void AddRelations(List<TableRowCount> into, string function, string qualified, bool below, CancellationToken cancellationToken)
        {
            foreach (var row in Query(
                         "SELECT n.nspname, c.relname FROM " + function + "(pg_catalog.to_regclass(@q)) p " +
                         "JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" +
                         (below ? " WHERE c.oid <> pg_catalog.to_regclass(@q)" : ""),
                         cancellationToken, ("q", qualified)))
            {
                var t = new TableRowCount((string)row[0]!, (string)row[1]!, 0);
                if (!into.Any(r => r.QualifiedName == t.QualifiedName)) into.Add(t);
            }
        }

        /// <summary>
        /// In a database PgBackup made and drops afterwards: lifts FORCE ROW LEVEL SECURITY from the tables that have it
        /// when this role is neither superuser nor BYPASSRLS (pg_dump, reading with row_security off, fails on them
        /// otherwise), and returns them, to be set again where their copy goes. Tables this role cannot alter stay as
        /// they are.
        /// </summary>
        public List<TableRowCount> LiftForcedRowSecurity(IOperationLog log, CancellationToken cancellationToken)
        {
            var lifted = new List<TableRowCount>();
            if (Scalar("SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user") is true) return lifted;
            foreach (var row in Query(
                         "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
                         "WHERE c.relrowsecurity AND c.relforcerowsecurity AND pg_catalog.pg_has_role(c.relowner, 'USAGE')", cancellationToken))
            {
                var t = new TableRowCount((string)row[0]!, (string)row[1]!, 0);
                Execute(PgSql.ForceRowSecurity(t.Schema, t.Name, false));
                lifted.Add(t);
                log.Verbose($"{t.QualifiedName} has FORCE ROW LEVEL SECURITY: lifted in PgBackup's restored copy, so that all its rows can be read.");
            }
            return lifted;
        }

        /// <summary>
        /// The tables (schema, name, the name as pg_dump writes it, and this role) that row-level security would filter for this
        /// role: a backup reads with row_security off, as pg_dump does, and the server refuses such a read rather than
        /// hide rows. Asked of the server (row_security_active), not of its messages, which may be in any language.
        /// </summary>
        public List<(string Schema, string Name, string AsWritten, string Role)> RowSecurityActiveTables(CancellationToken cancellationToken) =>
            Query("SELECT n.nspname, c.relname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), current_user::text " +
                  "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
                  "WHERE c.relrowsecurity AND c.relkind IN ('r', 'p') AND pg_catalog.row_security_active(c.oid) ORDER BY 1, 2", cancellationToken)
                .Select(r => ((string)r[0]!, (string)r[1]!, (string)r[2]!, (string)r[3]!)).ToList();

        /// <summary>What a backup refused by row-level security says, whichever engine read the table.</summary>
        internal static string RowSecurityRefusal(string role, string table) =>
            $"Row-level security applies to the role '{StoreName.Printable(role)}' on {StoreName.Printable(table)} (the table has FORCE ROW LEVEL SECURITY, or the role does not own it), " +
            "and a backup reads every row with row security off, as pg_dump does: the server refuses that rather than let a policy hide rows.";

        /// <summary>The RecommendedAction of <see cref="RowSecurityRefusal"/>.</summary>
        internal static string RowSecurityAction(string role) =>
            $"Back up as a superuser or as a role with BYPASSRLS (a superuser runs: ALTER ROLE {StoreName.Printable(PgIdentifier.Quote(role))} BYPASSRLS); " +
            "a table's owner can also back it up once FORCE is lifted (ALTER TABLE ... NO FORCE ROW LEVEL SECURITY). " +
            "PgBackup keeps no backup of only the rows a policy shows.";

        public void Dispose() => _connection.Dispose();
    }
}
