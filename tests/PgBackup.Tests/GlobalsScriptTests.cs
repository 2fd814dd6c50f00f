using System.Linq;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>The saved roles (pg_dumpall --globals-only) are read with the one SQL lexer; only role statements are kept.</summary>
    public class GlobalsScriptTests
    {
        // pg_dumpall 15.18's output, shortened (passwords are SCRAM verifiers in real files).
        private const string Globals = "--\n-- PostgreSQL database cluster dump\n--\n\n\\restrict a5h2Lena\n\n" +
            "SET default_transaction_read_only = off;\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n" +
            "CREATE ROLE app_reader;\nALTER ROLE app_reader WITH NOSUPERUSER INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$4096:x' VALID UNTIL '2030-01-01 00:00:00+00';\n" +
            "CREATE ROLE \"Grp; x\";\nALTER ROLE \"Grp; x\" WITH NOLOGIN;\nCOMMENT ON ROLE \"Grp; x\" IS 'the group; it''s fine';\n" +
            "ALTER ROLE app_reader SET search_path TO 'a', 'public';\nALTER ROLE app_reader IN DATABASE app SET work_mem TO '64MB';\n" +
            "GRANT \"Grp; x\" TO app_reader WITH ADMIN OPTION GRANTED BY postgres;\n\n\\unrestrict a5h2Lena\n\n--\n-- PostgreSQL database cluster dump complete\n--\n";

        [Fact]
        public void KeepsEachRoleStatementWhole()
        {
            var g = GlobalsScript.Parse(Globals);
            Assert.Equal(new[] { "app_reader", "Grp; x" }, g.Roles);
            Assert.Equal(6, g.RoleStatements.Count);
            Assert.Contains(g.RoleStatements, s => s.Role == "Grp; x" && s.Sql == "COMMENT ON ROLE \"Grp; x\" IS 'the group; it''s fine'");
            Assert.DoesNotContain(g.RoleStatements, s => s.Sql.Contains("IN DATABASE"));
            var m = Assert.Single(g.Memberships);
            Assert.Equal(("Grp; x", "app_reader"), (m.Group, m.Member));
        }

        [Fact]
        public void ASecondStatementOnARoleLineIsNeverRun()
        {
            // Before: the line went whole to NpgsqlCommand, which split it and ran the COPY too.
            var g = GlobalsScript.Parse("CREATE ROLE evil; COPY (SELECT 1) TO PROGRAM 'touch /tmp/x';\n" +
                                        "ALTER ROLE evil SET session_preload_libraries = '/tmp/evil.so';\nGRANT evil TO app_reader; DROP TABLE x;\n");
            Assert.Equal(new[] { "CREATE ROLE evil" }, g.RoleStatements.Select(s => s.Sql));
            Assert.Equal("GRANT evil TO app_reader", Assert.Single(g.Memberships).Sql);
        }

        [Theory]
        [InlineData("CREATE ROLE x;\n\\! touch /tmp/x\n")]
        [InlineData("CREATE ROLE x; -- c\r\\! touch /tmp/x\n")]
        [InlineData("CREATE ROLE 'x\0';\n")]
        [InlineData("CREATE ROLE x;\nALTER ROLE x WITH PASSWORD 'unterminated;\n")]
        public void AChangedFileIsRefusedWhole(string text)
        {
            var e = Assert.Throws<PgBackupException>(() => GlobalsScript.Parse(text));
            Assert.Equal(ErrorIds.UnsafeStatement, e.ErrorId);
        }
    }
}
