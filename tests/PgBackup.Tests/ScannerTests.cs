using System;
using System.IO;
using System.Linq;
using System.Text;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public class ScannerTests
    {
        private static PlainScriptScanner Scan(string script, int chunk = 7)
        {
            var s = new PlainScriptScanner();
            var bytes = Encoding.UTF8.GetBytes(script);
            for (int i = 0; i < bytes.Length; i += chunk) s.Feed(bytes, i, Math.Min(chunk, bytes.Length - i));
            s.Complete();
            return s;
        }

        private const string Dump = "--\n-- PostgreSQL database dump\n--\n\\restrict AbC123\nSET standard_conforming_strings = on;\n" +
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $_$ SELECT '\\! not a command' $_$;\n" +
            "COPY public.users (id, name) FROM stdin;\n1\talice\n2\tbob \\\\! x\n3\t\\.notend\n\\.\n" +
            "COPY \"Mixed Case\".\"Tëst\"  FROM stdin;\n\\.\n" +
            "COMMENT ON TABLE t IS 'back\\slash';\n/* block \\! /* nested */ still */ SELECT 1;\n" +
            "SELECT E'it\\'s \\\\ fine';\n\\unrestrict AbC123\n--\n-- PostgreSQL database dump complete\n--\n";

        [Theory]
        [InlineData(1)]
        [InlineData(7)]
        [InlineData(4096)]
        public void CountsRowsPerTableAndSeesTheFooter(int chunk)
        {
            var s = Scan(Dump, chunk);
            Assert.Null(s.FirstViolation);
            Assert.True(s.FooterSeen);
            Assert.True(s.HeaderSeen);
            Assert.False(s.InCopyData);
            Assert.Equal(2, s.Tables.Count);
            Assert.Equal(("public", "users", 3L), (s.Tables[0].Schema, s.Tables[0].Name, s.Tables[0].Rows));
            Assert.Equal(("Mixed Case", "Tëst", 0L), (s.Tables[1].Schema, s.Tables[1].Name, s.Tables[1].Rows));
            Assert.Equal(new[] { "restrict", "unrestrict" }, s.MetaCommands.Select(m => m.Command));
        }

        [Theory]
        [InlineData("\\! rm -rf /tmp/x\n", "!")]
        [InlineData("SELECT 1; \\o /tmp/out\n", "o")]
        [InlineData("\\copy t to program 'id'\n", "copy")]
        [InlineData("\\i /etc/passwd\n", "i")]
        [InlineData("\\connect other\n", "connect")]
        [InlineData("SELECT 1 \\gexec\n", "gexec")]
        [InlineData("  \\restrict key\n", "restrict")]
        public void FindsMetaCommandsPgDumpDoesNotWrite(string line, string command)
        {
            var s = Scan("SET x = 1;\n" + line + "SELECT 2;\n");
            Assert.NotNull(s.FirstViolation);
            Assert.Equal(command, s.FirstViolation!.Command);
            Assert.Equal(2, s.FirstViolation.Line);
            Assert.Contains("Line 2", s.DescribeViolation());
        }

        [Fact]
        public void ACommandAfterACopyStatementOnTheSameLineIsFound()
        {
            var s = Scan("COPY t (a) FROM stdin; \\! id\n1\n\\.\n");
            Assert.Equal("!", s.FirstViolation!.Command);
        }

        [Fact]
        public void CommandsAfterTheDataBlockAreFound()
        {
            var s = Scan("COPY t (a) FROM stdin;\n1\n\\.\n\\! id\n");
            Assert.Equal(4, s.FirstViolation!.Line);
            Assert.Equal(1, s.Tables[0].Rows);
        }

        [Fact]
        public void WithoutStandardStringsBackslashEscapesQuotes()
        {
            var s = Scan("SET standard_conforming_strings = off;\nSELECT 'a\\' \\! still inside';\nSELECT 1;\n");
            Assert.Null(s.FirstViolation);
            var on = Scan("SELECT 'a\\' \\! id ';\n");
            Assert.NotNull(on.FirstViolation);
        }

        [Fact]
        public void ACutShortDumpIsNoticed()
        {
            var s = Scan("--\n-- PostgreSQL database dump\n--\nCOPY t (a) FROM stdin;\n1\n2\n");
            Assert.False(s.FooterSeen);
            Assert.True(s.InCopyData);
        }

        [Fact]
        public void ScanningStreamRefusesBeforePassingTheBytesOn()
        {
            var sink = new MemoryStream();
            var stage = new ScanningStream(sink, new PlainScriptScanner(), refuseMetaCommands: true);
            var ok = Encoding.UTF8.GetBytes("SELECT 1;\n");
            stage.Write(ok, 0, ok.Length);
            var bad = Encoding.UTF8.GetBytes("SELECT 2;\n\\! touch /tmp/pwned\n");
            var e = Assert.Throws<PgBackupException>(() => stage.Write(bad, 0, bad.Length));
            Assert.Equal(ErrorIds.UnsafeMetaCommand, e.ErrorId);
            Assert.Equal(ok.Length, sink.Length);
        }
    }
}
