using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace PgBackup
{
    /// <summary>
    /// Every SQL statement PgBackup builds from names or values (catalog text, manifest text, the user's names). Names
    /// are quoted as identifiers and values as literals (<see cref="PgIdentifier.Quote"/>,
    /// <see cref="PgIdentifier.Literal"/>: quote_ident's and quote_literal's rules); nothing here goes through a
    /// format string. Fixed statements (SHOW, BEGIN, queries with parameters) are written where they are used.
    /// PgSqlTests runs each builder against a server with hostile names.
    /// </summary>
    public static class PgSql
    {
        public static string CreateDatabase(string name, DatabaseShell? like)
        {
            var sql = new StringBuilder("CREATE DATABASE ").Append(PgIdentifier.Quote(name)).Append(" TEMPLATE template0");
            if (like is null) return sql.ToString();
            sql.Append(" ENCODING ").Append(PgIdentifier.Literal(like.Encoding))
               .Append(" LC_COLLATE ").Append(PgIdentifier.Literal(like.Collate))
               .Append(" LC_CTYPE ").Append(PgIdentifier.Literal(like.Ctype));
            if (like.LocaleProvider == "i" && like.ProviderLocale is not null)
                sql.Append(" LOCALE_PROVIDER icu ICU_LOCALE ").Append(PgIdentifier.Literal(like.ProviderLocale));
            else if (like.LocaleProvider == "b" && like.ProviderLocale is not null)
                sql.Append(" LOCALE_PROVIDER builtin BUILTIN_LOCALE ").Append(PgIdentifier.Literal(like.ProviderLocale));
            if (like.Tablespace is not null) sql.Append(" TABLESPACE ").Append(PgIdentifier.Quote(like.Tablespace));
            // The connection limit is the database's for its users' sessions: set with the settings (ShellSettings), after the load.
            return sql.ToString();
        }

        public static string WithOwner(string createDatabase, string owner) => createDatabase + " OWNER " + PgIdentifier.Quote(owner);

        /// <summary>
        /// What makes database <paramref name="name"/> like <paramref name="like"/> after CREATE DATABASE: grants,
        /// settings (of the database, and of roles in it), comment.
        /// </summary>
        public static List<PgCommand> CopyShell(string name, DatabaseShell like, bool withComment = true)
        {
            var db = PgIdentifier.Quote(name);
            var commands = new List<PgCommand>();
            if (like.HasAcl) commands.Add(new PgCommand("REVOKE ALL ON DATABASE " + db + " FROM PUBLIC"));
            foreach (var g in like.Grants)
                commands.Add(new PgCommand("GRANT " + Privilege(g.Privilege) + " ON DATABASE " + db + " TO " + (g.Grantee is null ? "PUBLIC" : PgIdentifier.Quote(g.Grantee)) +
                                           (g.WithGrantOption ? " WITH GRANT OPTION" : "")));
            if (withComment && like.Comment is not null) commands.Add(new PgCommand(CommentOnDatabase(name, like.Comment)));
            return commands;
        }

        /// <summary>
        /// The settings of <paramref name="like"/> (its own, and its roles' in it) and its connection limit, for
        /// <paramref name="name"/>: set once the restored database is loaded and verified, just before it takes the
        /// target's place, because they are meant for the users' sessions and would hinder the restore's own
        /// (default_transaction_read_only, temp_file_limit, CONNECTION LIMIT 0...).
        /// </summary>
        public static List<PgCommand> ShellSettings(string name, DatabaseShell like)
        {
            var db = PgIdentifier.Quote(name);
            var commands = new List<PgCommand>();
            if (like.ConnectionLimit >= 0) commands.Add(new PgCommand("ALTER DATABASE " + db + " CONNECTION LIMIT " + like.ConnectionLimit.ToString(CultureInfo.InvariantCulture)));
            if (like.IsTemplate) commands.Add(new PgCommand(SetTemplate(name, true)));
            foreach (var s in like.Settings)
            {
                var set = (s.Role is null ? "ALTER DATABASE " + db : "ALTER ROLE " + PgIdentifier.Quote(s.Role) + " IN DATABASE " + db) + " SET " + PgIdentifier.Quote(s.Name);
                // A list setting (search_path...) is stored as the server wrote it: set it in this transaction from a
                // parameter and store it FROM CURRENT, so that it arrives exactly as it was. Any other is one literal.
                commands.Add(ListSettings.Contains(s.Name)
                    ? new PgCommand("SELECT pg_catalog.set_config(@name, @value, true); " + set + " FROM CURRENT", ("name", s.Name), ("value", s.Value))
                    : new PgCommand(set + " TO " + PgIdentifier.Literal(s.Value)));
            }
            return commands;
        }

        private static readonly HashSet<string> DatabasePrivileges = new HashSet<string>(StringComparer.Ordinal) { "CREATE", "CONNECT", "TEMPORARY", "TEMP" };

        private static string Privilege(string privilege) => DatabasePrivileges.Contains(privilege) ? privilege
            : throw new PgBackupException(ErrorIds.ServerQueryFailed, ErrorKind.InvalidData, $"'{privilege}' is not a privilege on databases; it was not granted.", privilege);

        /// <summary>Sets a database's comment; null removes it.</summary>
        public static string CommentOnDatabase(string name, string? comment) =>
            "COMMENT ON DATABASE " + PgIdentifier.Quote(name) + " IS " + (comment is null ? "NULL" : PgIdentifier.Literal(comment));

        /// <summary>Makes a database a template, or an ordinary database again (ALTER DATABASE ... IS_TEMPLATE).</summary>
        public static string SetTemplate(string name, bool isTemplate) => "ALTER DATABASE " + PgIdentifier.Quote(name) + " WITH IS_TEMPLATE " + (isTemplate ? "true" : "false");

        public static string DropDatabase(string name, bool force) => "DROP DATABASE IF EXISTS " + PgIdentifier.Quote(name) + (force ? " WITH (FORCE)" : "");

        public static string RenameDatabase(string from, string to) => "ALTER DATABASE " + PgIdentifier.Quote(from) + " RENAME TO " + PgIdentifier.Quote(to);

        public static string CountRows(string schema, string table) => "SELECT count(*) FROM ONLY " + PgIdentifier.Qualify(schema, table);

        /// <summary>Sets or lifts FORCE ROW LEVEL SECURITY (see PgServer's RowSecurity and Restore-PgBackup -Table).</summary>
        public static string ForceRowSecurity(string schema, string table, bool force) =>
            "ALTER TABLE ONLY " + PgIdentifier.Qualify(schema, table) + (force ? " FORCE" : " NO FORCE") + " ROW LEVEL SECURITY";

        /// <summary>The rows of a partitioned table and all its partitions.</summary>
        public static string CountTreeRows(string schema, string table) => "SELECT count(*) FROM " + PgIdentifier.Qualify(schema, table);

        /// <summary>The rows of a table; <paramref name="where"/> is the user's own SQL condition (-Where), by design.</summary>
        public static string SelectRows(string schema, string table, string? where) =>
            "SELECT * FROM " + PgIdentifier.Qualify(schema, table) + (string.IsNullOrWhiteSpace(where) ? "" : " WHERE " + where);

        // Settings whose values the server stores as a list of quoted names (pg_dump's variable_is_guc_list_quote).
        private static readonly HashSet<string> ListSettings = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "local_preload_libraries", "search_path", "session_preload_libraries", "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories",
        };
    }

    /// <summary>One command for <see cref="PgServer.Execute"/>: SQL text (one statement, or a few run as one implicit transaction) and its parameters.</summary>
    public sealed class PgCommand
    {
        public PgCommand(string sql, params (string Name, object Value)[] parameters)
        {
            Sql = sql;
            Parameters = parameters;
        }

        public string Sql { get; }
        public (string Name, object Value)[] Parameters { get; }
        public override string ToString() => Sql;
    }
}
