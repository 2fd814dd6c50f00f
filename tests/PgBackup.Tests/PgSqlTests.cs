using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.Json;
using System.Threading;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// Every statement PgBackup builds from names or values (<see cref="PgSql"/>), run against the test server with
    /// hostile names and values: quotes, backslashes, braces, semicolons, comments, dollar quotes, new lines, letters
    /// beyond ASCII. Each must do exactly what it says to exactly the object named, and nothing else.
    /// </summary>
    public sealed class PgSqlTests
    {
        private static readonly CancellationToken None = CancellationToken.None;

        public static readonly string[] Hostile =
        {
            "it's", "a\"b", "back\\slash", "{0}", "}{", "semi;colon", "--dash", "/*c*/", "$$x$$", "ünï ∑", "new\nline", "Mixed Case", "select",
            "'; CREATE ROLE pwned; --", "\"; CREATE ROLE pwned; --", "\\'; CREATE ROLE pwned; --",
        };

        /// <summary>The builders this class runs (CommentOnDatabase through Rename with a hostile comment); a new builder in PgSql fails <see cref="EveryBuilderIsRunHere"/> until it is added.</summary>
        private static readonly string[] Covered = { "CreateDatabase", "CommentOnDatabase", "WithOwner", "CopyShell", "ShellSettings", "SetTemplate", "DropDatabase", "RenameDatabase", "CountRows", "CountTreeRows", "ForceRowSecurity", "SelectRows" };

        [Fact]
        public void EveryBuilderIsRunHere()
        {
            var builders = typeof(PgSql).GetMethods(BindingFlags.Public | BindingFlags.Static).Select(m => m.Name).Distinct().OrderBy(n => n, StringComparer.Ordinal);
            Assert.Equal(Covered.OrderBy(n => n, StringComparer.Ordinal), builders);
        }

        [Fact]
        public void TheRolesScriptIsSplitIntoStatementsAsTheServerWouldSplitIt()
        {
            // As pg_dumpall writes a role whose own settings and comment hold lines that read like statements.
            var script = string.Join("\n",
                "\\restrict abc",
                "SET standard_conforming_strings = on;",
                "-- Roles; CREATE ROLE not_a_role;",
                "CREATE ROLE me;",
                "ALTER ROLE me WITH NOSUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$4096:x';",
                "ALTER ROLE me SET search_path TO 'a', '",
                "CREATE ROLE evil SUPERUSER;",
                "';",
                "COMMENT ON ROLE me IS 'it''s",
                "GRANT evil TO me;",
                "';",
                "ALTER ROLE me SET app.x TO E'\\';CREATE ROLE evil2;';",
                "COMMENT ON ROLE \"odd \"\";\" IS $q$;CREATE ROLE evil3;$q$; /* CREATE ROLE evil4; */",
                "GRANT admins TO me GRANTED BY postgres;",
                "\\unrestrict abc");
            var parsed = GlobalsScript.Parse(script);
            Assert.Equal(new[] { "me" }, parsed.Roles);
            Assert.Equal(6, parsed.RoleStatements.Count);
            // Statements as PgBackup's lexer hands them on: whole, without their closing semicolon.
            Assert.Equal("ALTER ROLE me SET search_path TO 'a', '\nCREATE ROLE evil SUPERUSER;\n'", parsed.RoleStatements[2].Sql);
            Assert.Equal("odd \";", parsed.RoleStatements[5].Role);
            Assert.Equal(new[] { ("admins", "me") }, parsed.Memberships.Select(m => (m.Group, m.Member)));
        }

        [PgFact]
        public void QuotingAgreesWithTheServersQuoteIdentAndQuoteLiteral()
        {
            using var db = PgTestServer.Connect("postgres");
            foreach (var h in Hostile)
            {
                Assert.Equal(db.Scalar("SELECT quote_ident(@v)", ("v", h)), PgIdentifier.Quote(h));
                Assert.Equal(db.Scalar("SELECT quote_literal(@v)", ("v", h)), PgIdentifier.Literal(h));
                Assert.Equal(h, db.Scalar("SELECT " + PgIdentifier.Literal(h)));
            }
            // The same literal whatever standard_conforming_strings says.
            db.Execute("SET standard_conforming_strings = off");
            foreach (var h in Hostile) Assert.Equal(h, db.Scalar("SELECT " + PgIdentifier.Literal(h)));
        }

        [PgFact]
        public void DatabasesWithHostileNamesAreCreatedLikeAnotherRenamedAndDropped()
        {
            var id = Guid.NewGuid().ToString("n").Substring(0, 6);
            string role = "r'\"{0};ünï " + id, source = "d'\"{0}; -- " + id, copy = "c\\'{1} */ " + id, renamed = "n$$\n" + id;
            string note = "it's {0} {\\} \"q\"; CREATE ROLE pwned; -- ünï", path = "\"a\"\"b, c\", public;CREATE/**/ROLE/**/pwned;--";
            using var admin = DatabaseAdmin.Connect(PgTestServer.Info("postgres"), null, Redactor.None, None);
            using var server = PgTestServer.Connect("postgres");
            server.Execute($"CREATE ROLE {PgIdentifier.Quote(role)}");
            try
            {
                admin.Create(source, null, NullLog.Instance, None);
                server.Execute($"ALTER DATABASE {PgIdentifier.Quote(source)} SET app.note TO {PgIdentifier.Literal(note)}");
                server.Execute($"GRANT CONNECT, TEMPORARY ON DATABASE {PgIdentifier.Quote(source)} TO {PgIdentifier.Quote(role)} WITH GRANT OPTION");
                server.Execute($"COMMENT ON DATABASE {PgIdentifier.Quote(source)} IS {PgIdentifier.Literal(note)}");
                server.Execute($"ALTER DATABASE {PgIdentifier.Quote(source)} CONNECTION LIMIT 7");
                server.Execute($"ALTER DATABASE {PgIdentifier.Quote(source)} WITH IS_TEMPLATE true");
                server.Execute($"SELECT set_config('search_path', @p, false); ALTER ROLE {PgIdentifier.Quote(role)} IN DATABASE {PgIdentifier.Quote(source)} SET search_path FROM CURRENT", None, ("p", path));
                server.Execute("RESET search_path");

                var shell = admin.ReadShell(source);
                Assert.Contains(shell.Settings, s => s.Role == role && s.Name == "search_path" && s.Value == path);
                admin.Create(copy, shell, NullLog.Instance, None);
                // The settings and the connection limit are for the users' sessions: they come after the load.
                Assert.Null(server.Scalar("SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = @d", ("d", copy)));
                Assert.Equal(-1, server.Scalar("SELECT datconnlimit FROM pg_database WHERE datname = @d", ("d", copy)));
                Assert.Equal(false, server.Scalar("SELECT datistemplate FROM pg_database WHERE datname = @d", ("d", copy)));
                admin.ApplySettings(copy, shell, NullLog.Instance, None);
                Assert.Equal(Describe(server, source), Describe(server, copy));
                admin.Rename(copy, renamed, shell.Comment);
                Assert.Equal(Describe(server, source), Describe(server, renamed));
                admin.Drop(renamed, None);
                Assert.False(admin.Exists(renamed));
                Assert.Null(server.Scalar("SELECT 1 FROM pg_roles WHERE rolname = 'pwned'"));
                Assert.Equal(false, server.Scalar("SELECT rolsuper FROM pg_roles WHERE rolname = @r", ("r", role)));
            }
            finally
            {
                foreach (var d in new[] { source, copy, renamed }) admin.Drop(d, None);
                server.Execute($"DROP ROLE {PgIdentifier.Quote(role)}");
            }
        }

        /// <summary>A database's settings (of the database and of its roles), grants and comment, as text.</summary>
        private static string Describe(PgServer server, string database)
        {
            var settings = server.Query(
                "SELECT coalesce(pg_get_userbyid(s.setrole), '-'), array_to_string(s.setconfig, E'\\n') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase " +
                "WHERE d.datname = @d ORDER BY 1", None, ("d", database)).Select(r => $"{r[0]}: {r[1]}");
            var grants = server.Query(
                "SELECT coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'PUBLIC'), a.privilege_type, a.is_grantable FROM pg_database d, aclexplode(d.datacl) a " +
                "WHERE d.datname = @d ORDER BY 1, 2", None, ("d", database)).Select(r => $"{r[0]} {r[1]} {r[2]}");
            var comment = server.Scalar("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = @d", ("d", database));
            var limit = server.Scalar("SELECT datconnlimit::text || ' ' || datistemplate::text FROM pg_database WHERE datname = @d", ("d", database));
            return string.Join("\n", settings.Concat(grants).Append($"comment: {comment}").Append($"connection limit, template: {limit}"));
        }

        [PgFact]
        public void RowsOfTablesWithHostileNamesAreCountedAndSelected()
        {
            var database = "pgsql_rows_" + Guid.NewGuid().ToString("n").Substring(0, 8);
            using var admin = DatabaseAdmin.Connect(PgTestServer.Info("postgres"), null, Redactor.None, None);
            admin.Create(database, null, NullLog.Instance, None);
            try
            {
                using var db = PgTestServer.Connect(database);
                foreach (var h in Hostile.Where(h => System.Text.Encoding.UTF8.GetByteCount(h) < 60 && h != "select"))
                {
                    var schema = "s " + h;
                    db.Execute($"CREATE SCHEMA {PgIdentifier.Quote(schema)}; CREATE TABLE {PgIdentifier.Qualify(schema, h)} (a int); INSERT INTO {PgIdentifier.Qualify(schema, h)} VALUES (1), (2)");
                    Assert.Equal(2L, db.CountRows(new[] { new TableRowCount(schema, h, 0) }, None).Single().Rows);
                    Assert.Equal(2, db.QueryNamed(PgSql.SelectRows(schema, h, "a > 0"), None).Count);
                    if (System.Text.Encoding.UTF8.GetByteCount(h) > 50) continue;
                    // A partition tree: its rows are compared as a whole (CountTreeRows), found from either end, and
                    // named to pg_dump as exact patterns.
                    string parent = "p " + h, part = h + " part";
                    db.Execute($"CREATE TABLE {PgIdentifier.Qualify(schema, parent)} (a int) PARTITION BY LIST (a); " +
                               $"CREATE TABLE {PgIdentifier.Qualify(schema, part)} PARTITION OF {PgIdentifier.Qualify(schema, parent)} FOR VALUES IN (1, 2); " +
                               $"INSERT INTO {PgIdentifier.Qualify(schema, parent)} VALUES (1), (2)");
                    var (actual, diffs) = db.CheckRows(new[] { new TableRowCount(schema, parent, 2) }, None);
                    Assert.Empty(diffs);
                    Assert.Equal(2L, Assert.Single(actual).Rows);
                    Assert.Equal(new[] { PgIdentifier.Qualify(schema, part), PgIdentifier.Qualify(schema, parent) },
                        db.PartitionLine(schema, part, None).Select(t => t.QualifiedName).OrderBy(n => n == PgIdentifier.Qualify(schema, parent)).ToArray());
                    var pattern = PgIdentifier.QuoteAsPattern(schema) + "." + PgIdentifier.QuoteAsPattern(parent);
                    Assert.Equal(PgIdentifier.Qualify(schema, part), Assert.Single(db.PartitionsOfMatches(new[] { pattern }, None)).QualifiedName);
                }
                // FORCE ROW LEVEL SECURITY, counted by an owner that is neither superuser nor BYPASSRLS (lifted in a rolled
                // back transaction: the tables keep it).
                var owner = "pgsql_rls_" + Guid.NewGuid().ToString("n").Substring(0, 8);
                db.Execute($"CREATE ROLE {owner}");
                try
                {
                    var forced = Hostile.Where(h => System.Text.Encoding.UTF8.GetByteCount(h) < 60 && h != "select").Select(h => new TableRowCount("s " + h, h, 0)).ToList();
                    foreach (var t in forced)
                        db.Execute($"ALTER TABLE {t.QualifiedName} ENABLE ROW LEVEL SECURITY; ALTER TABLE {t.QualifiedName} FORCE ROW LEVEL SECURITY; " +
                                   $"ALTER TABLE {t.QualifiedName} OWNER TO {owner}; GRANT USAGE ON SCHEMA {PgIdentifier.Quote(t.Schema)} TO {owner}");
                    db.Execute($"SET ROLE {owner}");
                    Assert.All(db.CountRows(forced, None), t => Assert.Equal(2L, t.Rows));
                    Assert.Equal(forced.Select(t => t.QualifiedName).OrderBy(n => n), db.LiftForcedRowSecurity(NullLog.Instance, None).Select(t => t.QualifiedName).OrderBy(n => n));
                    foreach (var t in forced) db.Execute(PgSql.ForceRowSecurity(t.Schema, t.Name, true));
                    db.Execute("RESET ROLE");
                    Assert.Equal(forced.Count, Convert.ToInt32(db.Scalar($"SELECT count(*) FROM pg_class WHERE relforcerowsecurity AND relowner = '{owner}'::regrole")));
                }
                finally { db.Execute($"RESET ROLE; REASSIGN OWNED BY {owner} TO CURRENT_USER; DROP OWNED BY {owner}; DROP ROLE {owner}"); }
                var oids = db.Query("SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 's %' AND c.relkind = 'r'")
                    .Select(r => (uint)(long)r[0]!).ToList();
                Assert.All(db.CountRowsByOid(oids, None), t => Assert.Equal(2L, t.Rows));
                Assert.Null(db.Scalar("SELECT 1 FROM pg_roles WHERE rolname = 'pwned'"));
            }
            finally { admin.Drop(database, None); }
        }
    }

    /// <summary>The main PostgreSQL server that build.ps1 started (PGBACKUP_TEST_SERVERS, JSON).</summary>
    public static class PgTestServer
    {
        private static readonly string? ConnectionString = Load();

        public static bool Available => ConnectionString is not null;

        private static string? Load()
        {
            var json = Environment.GetEnvironmentVariable("PGBACKUP_TEST_SERVERS");
            if (string.IsNullOrWhiteSpace(json)) return null;
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.GetProperty("Main").GetProperty("ConnectionString").GetString();
        }

        public static PgConnectionInfo Info(string database) => PgConnectionInfo.Parse(ConnectionString!).WithDatabase(database);

        public static PgServer Connect(string database) => PgServer.Connect(Info(database), Redactor.None, CancellationToken.None);
    }

    /// <summary>A fact that needs the test PostgreSQL server.</summary>
    public sealed class PgFactAttribute : FactAttribute
    {
        public PgFactAttribute()
        {
            if (!PgTestServer.Available) Skip = "No test PostgreSQL server: run the tests with build.ps1 -Task Test, which starts them (PGBACKUP_TEST_SERVERS).";
        }
    }
}
