using System;
using System.Collections.Generic;
using System.Linq;
using PgBackup;
using PgBackup.Native;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// The native engine's parts that need no server: name patterns, ACL commands, literals, the dependency sort and
    /// its loop repairs. Every statement built here is also one the plain-restore policy accepts. (The whole engine is
    /// tested against real servers in tests/NativeEngine.Tests.ps1.)
    /// </summary>
    public class NativeDumpTests
    {
        private static void AcceptedByPolicy(string script)
        {
            var policy = new PlainScriptPolicy();
            foreach (var st in SqlStatement.Split(script))
                Assert.Null(policy.Classify(st).Refusal);
        }

        [Theory]
        [InlineData("public.users", "public", "users", false, true)]
        [InlineData("public.users", "other", "users", true, false)]
        [InlineData("users", "app", "users", true, true)]
        [InlineData("users", "app", "users", false, false)]
        [InlineData("PUBLIC.Users", "public", "users", false, true)]
        [InlineData("\"Order\"", "s", "Order", true, true)]
        [InlineData("\"Order\"", "s", "order", true, false)]
        [InlineData("public.play_*", "public", "play_events", false, true)]
        [InlineData("public.play_*", "public", "plays", false, false)]
        [InlineData("*.t?", "x", "t1", false, true)]
        [InlineData("\"a.b\".c", "a.b", "c", false, true)]
        [InlineData("\"we*rd\"", "s", "we*rd", true, true)]
        [InlineData("\"we*rd\"", "s", "weird", true, false)]
        public void RelationPatternsMatchAsPgDumpMatchesThem(string pattern, string schema, string name, bool visible, bool matches) =>
            Assert.Equal(matches, NamePattern.ForRelation(pattern).MatchesRelation(schema, name, visible));

        [Theory]
        [InlineData("a.b.c")]
        [InlineData("db.s.t")]
        [InlineData("\"open")]
        public void InvalidRelationPatternsAreRefused(string pattern) =>
            Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(() => NamePattern.ForRelation(pattern)).ErrorId);

        [Fact]
        public void SchemaPatternsHaveNoDot()
        {
            Assert.True(NamePattern.ForSchema("app*").MatchesSchema("app_data"));
            Assert.True(NamePattern.ForSchema("\"Ärger ∑\"").MatchesSchema("Ärger ∑"));
            Assert.Throws<PgBackupException>(() => NamePattern.ForSchema("a.b"));
        }

        [Fact]
        public void AclGrantsWhatTheBaseLacksAndRevokesWhatItHas()
        {
            var acl = new Acl(new[] { "postgres=arwdDxt/postgres", "reader=r*/postgres", "\"Ünïcode Rölle\"=r/reader" }, new[] { "postgres=arwdDxtm/postgres" });
            var sql = AclCommands.Build("TABLE", "core.accounts", null, acl, "postgres");
            Assert.Equal(
                "REVOKE ALL ON TABLE core.accounts FROM postgres;\n" +
                "GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE core.accounts TO postgres;\n" +
                "GRANT SELECT ON TABLE core.accounts TO reader WITH GRANT OPTION;\n" +
                "SET SESSION AUTHORIZATION reader;\n" +
                "GRANT SELECT ON TABLE core.accounts TO \"Ünïcode Rölle\";\n" +
                "RESET SESSION AUTHORIZATION;\n", sql);
            AcceptedByPolicy(sql);
        }

        [Fact]
        public void AclOfAFunctionRevokesPublicExecute()
        {
            var acl = new Acl(new[] { "postgres=X/postgres", "reader=X/postgres" }, new[] { "=X/postgres", "postgres=X/postgres" });
            var sql = AclCommands.Build("FUNCTION", "core.greet(text, text[])", null, acl, "postgres");
            Assert.Equal("REVOKE ALL ON FUNCTION core.greet(text, text[]) FROM PUBLIC;\nGRANT ALL ON FUNCTION core.greet(text, text[]) TO reader;\n", sql);
            AcceptedByPolicy(sql);
        }

        [Fact]
        public void AclOfAColumnNamesTheColumn()
        {
            var acl = new Acl(new[] { "reader=wx/postgres" }, Array.Empty<string>());
            var sql = AclCommands.Build("TABLE", "core.accounts", "\"user\"", acl, "postgres");
            Assert.Equal("GRANT REFERENCES(\"user\"),UPDATE(\"user\") ON TABLE core.accounts TO reader;\n", sql);
            AcceptedByPolicy(sql);
        }

        [Fact]
        public void DefaultPrivilegesHaveNoObjectName()
        {
            var acl = new Acl(new[] { "owner=X/owner" }, new[] { "=X/owner", "owner=X/owner" });
            var sql = AclCommands.Build("FUNCTIONS", "", null, acl, "owner", "ALTER DEFAULT PRIVILEGES FOR ROLE owner ");
            Assert.Equal("ALTER DEFAULT PRIVILEGES FOR ROLE owner REVOKE ALL ON FUNCTIONS  FROM PUBLIC;\n", sql);
            AcceptedByPolicy(sql);
        }

        [Fact]
        public void NoAclMeansNothingToWrite() =>
            Assert.Equal("", AclCommands.Build("TABLE", "t", null, new Acl(null, new[] { "a=r/a" }), "a"));

        [Theory]
        [InlineData("CREATE OR REPLACE FUNCTION s.f()\n RETURNS integer\n LANGUAGE sql\nAS $function$SELECT 1$function$\n", "CREATE FUNCTION s.f()\n RETURNS integer\n LANGUAGE sql\nAS $function$SELECT 1$function$;\n")]
        [InlineData("CREATE OR REPLACE PROCEDURE s.p()\n LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\nEND\n", "CREATE PROCEDURE s.p()\n LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\nEND;\n")]
        public void FunctionDefinitionsAreThoseOfPgGetFunctiondefAsPgDumpWritesThem(string fromServer, string written)
        {
            Assert.Equal(written, CatalogReader.FunctionDefinition(fromServer));
            AcceptedByPolicy(written);
        }

        [Theory]
        [InlineData(new[] { "fillfactor=80", "autovacuum_enabled=false" }, "", "fillfactor='80', autovacuum_enabled='false'")]
        [InlineData(new[] { "security_barrier=true" }, "", "security_barrier='true'")]
        [InlineData(new[] { "autovacuum_enabled=off" }, "toast.", "toast.autovacuum_enabled=off")]
        [InlineData(new[] { "odd=it's" }, "", "odd='it''s'")]
        public void RelOptionsAsPgDumpWritesThem(string[] options, string prefix, string written) =>
            Assert.Equal(written, SqlText.RelOptions(options, prefix));

        [Fact]
        public void CommentLinesHaveNoLineBreaks() => Assert.Equal("a b c", SqlText.CommentLine("a\nb\rc"));

        // ----- the dependency sort -----

        private sealed class Graph
        {
            public readonly List<DumpObject> All = new List<DumpObject>();
            public readonly DumpObject Pre, Post;
            public readonly NamespaceObj Schema;

            public Graph()
            {
                Pre = Add(new DumpObject(ObjKind.PreDataBoundary, 0, 0, "PRE-DATA BOUNDARY"));
                Post = Add(new DumpObject(ObjKind.PostDataBoundary, 0, 0, "POST-DATA BOUNDARY"));
                Post.AddDep(Pre);
                Schema = Add(new NamespaceObj(1, 1, "s") { Dump = true });
            }

            public T Add<T>(T o) where T : DumpObject
            {
                o.DumpId = All.Count + 1;
                if (o.Namespace is null && o is not NamespaceObj && o.Kind is not (ObjKind.PreDataBoundary or ObjKind.PostDataBoundary)) o.Namespace = Schema;
                o.Dump = true;
                All.Add(o);
                return o;
            }

            public TableObj Table(string name, char kind = 'r')
            {
                var t = Add(new TableObj(2, (uint)(100 + All.Count), name) { RelKind = kind });
                Pre.AddDep(t);
                return t;
            }

            public List<DumpObject> Sort() => new DumpSorter(All, Pre, Post, NullLog.Instance).Sort();
        }

        private static int At(List<DumpObject> order, DumpObject o) => order.IndexOf(o);

        [Fact]
        public void TypesAndFunctionsComeBeforeTablesUnlessTheyNeedThem()
        {
            var g = new Graph();
            var table = g.Table("accounts");
            var plain = g.Add(new FuncObj(ObjKind.Function, 3, 500, "plain"));
            var reads = g.Add(new FuncObj(ObjKind.Function, 3, 501, "reads_accounts"));
            g.Pre.AddDep(plain);
            g.Pre.AddDep(reads);
            reads.AddDep(table);
            var order = g.Sort();
            Assert.True(At(order, plain) < At(order, table));
            Assert.True(At(order, table) < At(order, reads));
            Assert.True(At(order, reads) < At(order, g.Pre));
        }

        [Fact]
        public void AViewAndItsSelectRuleAreOneObject()
        {
            var g = new Graph();
            var t = g.Table("t");
            var view = g.Table("v", 'v');
            var rule = g.Add(new RuleObj(4, 600, "_RETURN", view) { EvType = '1', IsInstead = true });
            view.AddDep(rule);
            rule.AddDep(view);
            rule.AddDep(t);
            var order = g.Sort();
            Assert.False(rule.Separate);
            Assert.False(view.DummyView);
            Assert.True(At(order, t) < At(order, view));
        }

        [Fact]
        public void AViewInALoopIsAPlaceholderReplacedInPostData()
        {
            // A view over a function that returns the view's row type (the loop pg_dump breaks with a dummy view).
            var g = new Graph();
            var view = g.Table("loop_view", 'v');
            var rule = g.Add(new RuleObj(4, 600, "_RETURN", view) { EvType = '1', IsInstead = true });
            var fn = g.Add(new FuncObj(ObjKind.Function, 3, 501, "loop_fn"));
            var rowType = g.Add(new DumpObject(ObjKind.DummyType, 5, 700, "loop_view"));
            g.Pre.AddDep(fn);
            g.Pre.AddDep(rowType);
            view.AddDep(rule);
            rule.AddDep(view);
            rule.AddDep(fn);
            fn.AddDep(rowType);
            rowType.AddDep(view);
            var order = g.Sort();
            Assert.True(view.DummyView);
            Assert.True(rule.Separate);
            Assert.True(At(order, view) < At(order, fn));
            Assert.True(At(order, g.Post) < At(order, rule));
        }

        [Fact]
        public void AColumnDefaultInALoopIsWrittenAfterItsTable()
        {
            // A serial column: the table needs its default, the default the sequence, the sequence (owned) the table.
            var g = new Graph();
            var table = g.Table("serials");
            var seq = g.Table("serials_id_seq", 'S');
            var def = g.Add(new AttrDefObj(6, 800, table, 1, "nextval('s.serials_id_seq'::regclass)"));
            g.Pre.AddDep(def);
            table.AddDep(def);
            def.AddDep(table);
            def.AddDep(seq);
            seq.AddDep(table);
            var order = g.Sort();
            Assert.True(def.Separate);
            Assert.True(At(order, table) < At(order, seq));
            Assert.True(At(order, seq) < At(order, def));
        }

        [Fact]
        public void ACheckConstraintInALoopIsWrittenInPostData()
        {
            var g = new Graph();
            var table = g.Table("t");
            var check = g.Add(new ConstraintObj(ObjKind.Constraint, 7, 900, "t_check") { Table = table, ConType = 'c' });
            var fn = g.Add(new FuncObj(ObjKind.Function, 3, 501, "check_fn"));
            g.Pre.AddDep(fn);
            table.AddDep(check);
            check.AddDep(table);
            check.AddDep(fn);
            fn.AddDep(table);
            var order = g.Sort();
            Assert.True(check.Separate);
            Assert.True(At(order, g.Post) < At(order, check));
            Assert.True(At(order, table) < At(order, fn));
        }

        [Fact]
        public void AFunctionThatNeedsAKeyIsPostponed()
        {
            // A SQL-standard body that groups by a primary key depends on the key, which is post-data.
            var g = new Graph();
            var table = g.Table("t");
            var key = g.Add(new ConstraintObj(ObjKind.Constraint, 7, 901, "t_pkey") { Table = table, ConType = 'p', Separate = true });
            key.AddDep(table);
            key.AddDep(g.Post);
            var fn = g.Add(new FuncObj(ObjKind.Function, 3, 502, "per_key"));
            g.Pre.AddDep(fn);
            fn.AddDep(key);
            var order = g.Sort();
            Assert.True(fn.Postponed);
            Assert.True(At(order, key) < At(order, fn));
        }

        [Fact]
        public void ObjectsOnlySortedNeverPullOthersForward()
        {
            // An internal trigger of a foreign key (not written) must not bring the key up among the tables.
            var g = new Graph();
            var a = g.Table("a");
            var b = g.Table("b");
            var fk = g.Add(new ConstraintObj(ObjKind.FkConstraint, 7, 902, "b_fk") { Table = b, ConType = 'f', Separate = true });
            fk.AddDep(b);
            fk.AddDep(a);
            fk.AddDep(g.Post);
            var trigger = g.Add(new DumpObject(ObjKind.Shadow, 8, 1000, "") { Dump = false });
            trigger.AddDep(fk);
            var order = g.Sort();
            Assert.True(At(order, g.Post) < At(order, fk));
        }
    }
}
