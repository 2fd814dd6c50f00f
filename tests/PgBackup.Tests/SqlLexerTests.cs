using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>PgBackup's one SQL lexer: statements, COPY data and meta-command lines as the server and psql find them.</summary>
    public class SqlLexerTests
    {
        private sealed class Recorder : ISqlScriptHandler
        {
            public SqlLexer? Lexer;
            public List<string> Statements { get; } = new List<string>();
            public List<SqlStatement> Copies { get; } = new List<SqlStatement>();
            public List<string> Meta { get; } = new List<string>();
            public StringBuilder Data { get; } = new StringBuilder();
            public List<long> CopyRows { get; } = new List<long>();
            public string? Refusal;
            public long RefusalLine;

            public void Statement(SqlStatement statement)
            {
                Statements.Add(statement.Text(Encoding.UTF8));
                Copies.Add(statement.Copy());
                if (statement.IsWord(0, "copy") && statement.IsWord(statement.TokenCount - 1, "stdin")) Lexer!.BeginCopyData();
            }

            public void MetaCommand(long line, byte[] buffer, int offset, int count) => Meta.Add($"{line}:{Encoding.UTF8.GetString(buffer, offset, count)}");
            public void CopyData(byte[] buffer, int offset, int count) => Data.Append(Encoding.UTF8.GetString(buffer, offset, count));
            public void CopyEnd(long rows) => CopyRows.Add(rows);

            public void Refused(long line, string reason)
            {
                Refusal = reason;
                RefusalLine = line;
            }
        }

        private static (Recorder Result, SqlLexer Lexer) Lex(string script, int chunk = 7)
        {
            var r = new Recorder();
            var lexer = new SqlLexer(r);
            r.Lexer = lexer;
            var bytes = Encoding.UTF8.GetBytes(script);
            for (int i = 0; i < bytes.Length; i += chunk) lexer.Feed(bytes, i, Math.Min(chunk, bytes.Length - i));
            lexer.Complete();
            return (r, lexer);
        }

        public static IEnumerable<object[]> Chunks => new[] { new object[] { 1 }, new object[] { 3 }, new object[] { 7 }, new object[] { 4096 } };

        [Theory]
        [MemberData(nameof(Chunks))]
        public void SemicolonsInsideQuotesCommentsParenthesesAndFunctionBodiesDoNotEndAStatement(int chunk)
        {
            var script = string.Join("\n", new[]
            {
                "SELECT 'a;b', E'it\\'s; \\\\', U&'d\\0061;', B'101', X'1F', N'n;';",
                "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $_X$ SELECT 'x;' $_$ ; $_X$;",
                "CREATE TABLE \"we;ird\" (a int); -- a comment; with semicolons",
                "/* block ; /* nested ; */ still ; */ COMMENT ON TABLE t IS 'x';",
                "CREATE RULE r AS ON INSERT TO public.t DO INSTEAD (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));",
                "CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END; SELECT a; END;",
                "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;",
                "SELECT 1;",
            }) + "\n";
            var (r, _) = Lex(script, chunk);
            Assert.Null(r.Refusal);
            Assert.Equal(8, r.Statements.Count);
            Assert.Equal("SELECT 'a;b', E'it\\'s; \\\\', U&'d\\0061;', B'101', X'1F', N'n;'", r.Statements[0]);
            Assert.EndsWith("$_X$ SELECT 'x;' $_$ ; $_X$", r.Statements[1]);
            Assert.Equal("CREATE TABLE \"we;ird\" (a int)", r.Statements[2]);
            Assert.Equal("COMMENT ON TABLE t IS 'x'", r.Statements[3]);
            Assert.EndsWith("INSERT INTO b VALUES (2))", r.Statements[4]);
            Assert.EndsWith("SELECT a; END", r.Statements[5]);
            Assert.EndsWith("VALUES (1); END", r.Statements[6]);
        }

        [Fact]
        public void TokensFollowTheServersRulesForNumbersAndDollars()
        {
            var (r, _) = Lex("SELECT 1.E'\\';x', 1$a$;$a$, a$b$c, $1, 0x1F, 1e+5, 1..2;\n", 4096);
            Assert.Null(r.Refusal);
            var s = Assert.Single(r.Copies);
            var kinds = Enumerable.Range(0, s.TokenCount).Select(i => (s[i].Kind, s.TokenText(i, Encoding.UTF8))).ToList();
            Assert.Contains((SqlTokenKind.Number, "1."), kinds);
            // E directly after "1." starts an escape string, as scan.l's realfail rule has it.
            Assert.Contains((SqlTokenKind.EscapeString, "E'\\';x'"), kinds);
            Assert.Contains((SqlTokenKind.DollarString, "$a$;$a$"), kinds);
            Assert.Contains((SqlTokenKind.Word, "a$b$c"), kinds);
            Assert.Contains((SqlTokenKind.Parameter, "$1"), kinds);
            Assert.Contains((SqlTokenKind.Number, "0x1F"), kinds);
            Assert.Contains((SqlTokenKind.Number, "1e+5"), kinds);
            Assert.Contains((SqlTokenKind.Punctuation, ".."), kinds);
        }

        [Theory]
        [MemberData(nameof(Chunks))]
        public void CopyDataRunsToALineThatIsExactlyBackslashDot(int chunk)
        {
            var (r, _) = Lex("COPY public.t (a, b) FROM stdin;\n1\tx\n\\.notend\t\\N\n\\\n2\t\\.\n\\.\nSELECT 2;\n", chunk);
            Assert.Null(r.Refusal);
            Assert.Equal(new[] { "COPY public.t (a, b) FROM stdin", "SELECT 2" }, r.Statements);
            Assert.Equal(new long[] { 4 }, r.CopyRows);
            Assert.Equal("1\tx\n\\.notend\t\\N\n\\\n2\t\\.\n", r.Data.ToString());
        }

        [Theory]
        [MemberData(nameof(Chunks))]
        public void WindowsLineEndsAreLineEnds(int chunk)
        {
            var (r, _) = Lex("SET a = 1;\r\nCOPY t (a) FROM stdin;\r\n1\r\n2\r\n\\.\r\n-- PostgreSQL database dump complete\r\n", chunk);
            Assert.Null(r.Refusal);
            Assert.Equal(new long[] { 2 }, r.CopyRows);
            Assert.Equal("1\r\n2\r\n", r.Data.ToString());
        }

        [Theory]
        [InlineData("SELECT 1;\n\\! touch /tmp/x\n", 2, "\\! touch /tmp/x")]
        [InlineData("\\restrict abc\nSET a = 1;\n\\unrestrict abc\n", 1, "\\restrict abc")]
        public void MetaCommandLinesAreHandedOnWithTheirLine(string script, long line, string text)
        {
            var (r, _) = Lex(script);
            Assert.Contains($"{line}:{text}", r.Meta);
        }

        [Theory]
        [InlineData("SELECT 1 \\gexec\n", 1, "backslash")]
        [InlineData("SELECT 1; \\! id\n", 1, "backslash")]
        [InlineData("CREATE TABLE t (\n\\! id\n);\n", 2, "backslash")]
        [InlineData("SELECT 1; -- comment\r\\! id\n", 1, "carriage return")]
        [InlineData("SELECT\r1;\n", 1, "carriage return")]
        [InlineData("SELECT 'a\0b';\n", 1, "NUL")]
        [InlineData("COPY t (a) FROM stdin;\n1\0\n\\.\n", 2, "NUL")]
        [InlineData("COPY t (a) FROM stdin; SELECT 1;\n1\n\\.\n", 1, "after a COPY")]
        public void RefusesWhatPsqlAndTheServerCouldReadDifferently(string script, long line, string reason)
        {
            var (r, _) = Lex(script);
            Assert.NotNull(r.Refusal);
            Assert.Contains(reason, r.Refusal, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(line, r.RefusalLine);
        }

        [Fact]
        public void ACarriageReturnInsideALiteralIsTheValues()
        {
            // pg_dump --inserts writes a text value's carriage returns raw.
            var (r, _) = Lex("INSERT INTO t VALUES ('a\rb', \"x\ry\", $$c\rd$$);\n");
            Assert.Null(r.Refusal);
            Assert.Contains("'a\rb'", r.Statements[0]);
        }

        [Theory]
        [InlineData("SELECT 'unterminated;\n", "string")]
        [InlineData("COPY t (a) FROM stdin;\n1\n2\n", "COPY data")]
        [InlineData("SELECT 1\n", "statement")]
        [InlineData("/* open comment\n", "comment")]
        public void ACutShortScriptIsNoticed(string script, string where)
        {
            var (r, lexer) = Lex(script);
            Assert.Null(r.Refusal);
            Assert.Contains(where, lexer.Truncated);
            Assert.False(lexer.FooterSeen);
        }

        [Fact]
        public void CommentsAreLeftOutAndLineEndsKeptBetweenTokens()
        {
            var (r, lexer) = Lex("--\n-- PostgreSQL database dump\n--\n-- Dumped by pg_dump version 15.18\nSELECT /* c */ 'a'\n  'b' -- d\n;\n--\n-- PostgreSQL database dump complete\n--\n");
            Assert.Equal("SELECT 'a'\n'b'", r.Statements.Single());
            Assert.True(lexer.FooterSeen);
            Assert.Null(lexer.Truncated);
            Assert.Contains("-- Dumped by pg_dump version 15.18", lexer.Header);
        }

        [Fact]
        public void DescribeNeverShowsALiteral()
        {
            var s = SqlStatement.Split("CREATE USER MAPPING FOR app SERVER s OPTIONS (password 'hunter2');").Single();
            Assert.DoesNotContain("hunter2", s.Describe(20));
            Assert.StartsWith("CREATE USER MAPPING FOR app", s.Describe());
        }
    }
}
