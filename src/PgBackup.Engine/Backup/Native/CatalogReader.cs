using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace PgBackup.Native
{
    /// <summary>An object of a kind the native dump does not reproduce.</summary>
    internal sealed class UnsupportedObject
    {
        public UnsupportedObject(string kind, string name)
        {
            Kind = kind;
            Name = name;
        }

        public string Kind { get; }
        public string Name { get; }
        public override string ToString() => $"{Kind} {Name}";
    }

    /// <summary>
    /// Reads what a dump needs from the catalog of PostgreSQL 12 to 18, in the dump's snapshot, into
    /// <see cref="DumpObject"/>s, the way pg_dump's getXxx functions do (pg_dump.c), with the differences between
    /// versions handled by the server version. Definitions come from the server's own pg_get_*def functions wherever
    /// one exists (functions, views, indexes, constraints, triggers, rules, statistics, partition keys and bounds,
    /// expressions). Every query takes its values as parameters; no catalog text is put into SQL.
    /// </summary>
    internal sealed class CatalogReader
    {
        public const uint FirstNormalObjectId = 16384;

        private readonly DumpSession _s;
        private readonly int _v;
        private readonly NativeDumpOptions _o;
        private readonly Dictionary<string, uint> _classes = new Dictionary<string, uint>(StringComparer.Ordinal);
        private readonly Dictionary<(uint, uint), DumpObject> _byCatalogId = new Dictionary<(uint, uint), DumpObject>();
        private readonly Dictionary<uint, NamespaceObj> _namespaces = new Dictionary<uint, NamespaceObj>();
        private readonly Dictionary<uint, TableObj> _tables = new Dictionary<uint, TableObj>();
        private readonly Dictionary<uint, TypeObj> _types = new Dictionary<uint, TypeObj>();
        private readonly Dictionary<uint, IndexObj> _indexes = new Dictionary<uint, IndexObj>();
        private readonly Dictionary<uint, string> _collationNames = new Dictionary<uint, string>();
        private readonly HashSet<(uint, uint)> _extensionMembers = new HashSet<(uint, uint)>();
        private readonly List<ExtensionObj> _extensions = new List<ExtensionObj>();
        private readonly List<NamePattern> _includeSchemas;
        private readonly List<NamePattern> _excludeSchemas;
        private readonly List<NamePattern> _includeTables;
        private readonly List<NamePattern> _excludeTables;
        private readonly List<NamePattern> _excludeData;

        public CatalogReader(DumpSession session, int serverVersionNum, NativeDumpOptions options)
        {
            _s = session;
            _v = serverVersionNum;
            _o = options;
            var scope = options.Scope;
            _includeSchemas = (scope.Schemas ?? Array.Empty<string>()).Select(NamePattern.ForSchema).ToList();
            _excludeSchemas = (scope.ExcludeSchemas ?? Array.Empty<string>()).Select(NamePattern.ForSchema).ToList();
            _includeTables = (scope.Tables ?? Array.Empty<string>()).Select(NamePattern.ForRelation).ToList();
            _excludeTables = (scope.ExcludeTables ?? Array.Empty<string>()).Select(NamePattern.ForRelation).ToList();
            _excludeData = (scope.ExcludeTableData ?? Array.Empty<string>()).Select(NamePattern.ForRelation).ToList();
        }

        /// <summary>Every object: written ones, ones only sorted, and the section boundaries.</summary>
        public List<DumpObject> Objects { get; } = new List<DumpObject>();
        public DumpObject PreDataBoundary { get; private set; } = null!;
        public DumpObject PostDataBoundary { get; private set; } = null!;
        public List<UnsupportedObject> Unsupported { get; } = new List<UnsupportedObject>();
        public Dictionary<(uint Class, uint Oid, int Sub), string> Comments { get; } = new Dictionary<(uint, uint, int), string>();
        public Dictionary<(uint Class, uint Oid, int Sub), List<(string Provider, string Label)>> SecurityLabels { get; } = new Dictionary<(uint, uint, int), List<(string, string)>>();
        /// <summary>No schema or table was selected: the whole database (pg_dump's include_everything).</summary>
        public bool IncludeEverything => _includeSchemas.Count == 0 && _includeTables.Count == 0;
        public uint ClassOid(string catalog) => _classes[catalog];
        /// <summary>Tables whose data is dumped, for locking and copying.</summary>
        public IEnumerable<TableObj> Tables => _tables.Values;
        public TableObj? Table(uint oid) => _tables.TryGetValue(oid, out var t) ? t : null;
        public int Version => _v;

        private string V(int atLeast, string then, string otherwise) => _v >= atLeast ? then : otherwise;

        private T Add<T>(T obj) where T : DumpObject
        {
            obj.DumpId = Objects.Count + 1;
            Objects.Add(obj);
            if (obj.ClassOid != 0) _byCatalogId[(obj.ClassOid, obj.Oid)] = obj;
            return obj;
        }

        private bool IsExtensionMember(uint classOid, uint oid) => _extensionMembers.Contains((classOid, oid));

        /// <summary>
        /// Step 1, before any lock: the catalogs' ids, schemas, extensions and which relations the backup holds. The
        /// relation list is read with the connection's own search path (pg_dump expands -t patterns the same way).
        /// </summary>
        public void ReadRelationList()
        {
            foreach (var r in _s.Query(
                         "SELECT c.relname, c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relname = ANY(@names)",
                         ("names", new[]
                         {
                             "pg_class", "pg_type", "pg_proc", "pg_namespace", "pg_constraint", "pg_attrdef", "pg_trigger", "pg_rewrite",
                             "pg_operator", "pg_cast", "pg_collation", "pg_extension", "pg_policy", "pg_statistic_ext", "pg_publication",
                             "pg_publication_rel", "pg_publication_namespace", "pg_default_acl", "pg_event_trigger", "pg_largeobject",
                             "pg_largeobject_metadata", "pg_attribute", "pg_database",
                         })))
                _classes[r.Str("relname")] = r.Oid("oid");
            if (!_classes.ContainsKey("pg_publication_namespace")) _classes["pg_publication_namespace"] = uint.MaxValue;

            PreDataBoundary = Add(new DumpObject(ObjKind.PreDataBoundary, 0, 0, "PRE-DATA BOUNDARY"));
            PostDataBoundary = Add(new DumpObject(ObjKind.PostDataBoundary, 0, 0, "POST-DATA BOUNDARY"));

            foreach (var r in _s.Query("SELECT classid, objid, refobjid FROM pg_catalog.pg_depend WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND deptype = 'e'"))
                _extensionMembers.Add((r.Oid("classid"), r.Oid("objid")));

            ReadNamespaces();
            ReadExtensions();

            foreach (var r in _s.Query(
                         "SELECT c.oid, c.relname, c.relnamespace, c.relkind, pg_catalog.pg_get_userbyid(c.relowner) AS owner, " +
                         "pg_catalog.pg_table_is_visible(c.oid) AS visible " +
                         "FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY c.oid"))
            {
                if (!_namespaces.TryGetValue(r.Oid("relnamespace"), out var ns)) continue;
                var t = Add(new TableObj(_classes["pg_class"], r.Oid("oid"), r.Str("relname"))
                {
                    Namespace = ns, RelKind = r.Char("relkind"), Owner = r.Str("owner"),
                });
                _tables[t.Oid] = t;
                t.Dump = SelectTable(t, r.Bool("visible")) && !IsExtensionMember(t.ClassOid, t.Oid);
            }
            if (_includeTables.Count > 0 && !_tables.Values.Any(t => t.Dump))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.ObjectNotFound,
                    $"No table matches -Table {string.Join(", ", _includeTables.Select(p => p.Text))}.", string.Join(", ", _includeTables.Select(p => p.Text)));
            if (_includeSchemas.Count > 0 && !_namespaces.Values.Any(n => _includeSchemas.Any(p => p.MatchesSchema(n.Name))))
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.ObjectNotFound,
                    $"No schema matches -Schema {string.Join(", ", _includeSchemas.Select(p => p.Text))}.", string.Join(", ", _includeSchemas.Select(p => p.Text)));
        }

        private bool SelectTable(TableObj t, bool visible)
        {
            bool dump = _includeTables.Count > 0
                ? _includeTables.Any(p => p.MatchesRelation(t.Namespace!.Name, t.Name, visible))
                : t.Namespace!.DumpContains;
            if (dump && _excludeTables.Any(p => p.MatchesRelation(t.Namespace!.Name, t.Name, visible))) dump = false;
            if (dump && t.RelKind is 'r' or 'm' or 'S')
                t.DumpData = !_o.Scope.SchemaOnly && !_excludeData.Any(p => p.MatchesRelation(t.Namespace!.Name, t.Name, visible));
            return dump;
        }

        /// <summary>The tables to lock (ACCESS SHARE), as pg_dump locks them: the plain and partitioned ones it dumps.</summary>
        public List<TableObj> TablesToLock() => _tables.Values.Where(t => t.Dump && t.RelKind is 'r' or 'p').OrderBy(t => t.Oid).ToList();

        private void ReadNamespaces()
        {
            foreach (var r in _s.Query(
                         "SELECT n.oid, n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner, n.nspacl::pg_catalog.text[] AS acl, " +
                         "pg_catalog.acldefault('n', n.nspowner)::pg_catalog.text[] AS acldefault " +
                         "FROM pg_catalog.pg_namespace n ORDER BY n.oid"))
            {
                var ns = Add(new NamespaceObj(_classes["pg_namespace"], r.Oid("oid"), r.Str("nspname")) { Owner = r.Str("owner") });
                _namespaces[ns.Oid] = ns;
                var name = ns.Name;
                bool system = name.StartsWith("pg_", StringComparison.Ordinal) || name == "information_schema";
                if (_includeTables.Count > 0) ns.DumpContains = false;
                else if (_includeSchemas.Count > 0) ns.DumpContains = _includeSchemas.Any(p => p.MatchesSchema(name));
                else ns.DumpContains = !system;
                if (system) ns.DumpContains = false;
                if (ns.DumpContains && _excludeSchemas.Any(p => p.MatchesSchema(name))) ns.DumpContains = false;
                ns.Dump = ns.DumpContains && !IsExtensionMember(ns.ClassOid, ns.Oid);
                var acl = r.Texts("acl");
                if (name == "public")
                {
                    // pg_dump's public schema: its ACL is compared with initdb's, {owner=UC/owner,=U/owner} (pg_dump
                    // assumes this, PostgreSQL 15's; before 15 initdb gave PUBLIC CREATE too, and a REVOKE of it there
                    // is kept here). Unless named in -Schema (then it is written like any other schema), initdb creates
                    // it, and its owner is written only when it is not pg_database_owner.
                    var owner = AclRoleName(ns.Owner);
                    ns.Acl = new Acl(acl ?? r.Texts("acldefault"), new[] { owner + "=UC/" + owner, (_v >= 150000 ? "=U/" : "=UC/") + owner });
                    if (_includeSchemas.Count == 0 && _includeTables.Count == 0)
                    {
                        ns.Create = false;
                        ns.DumpDefinition = ns.Owner != "pg_database_owner";
                    }
                }
                else ns.Acl = new Acl(acl, r.Texts("acldefault"));
            }
        }

        /// <summary>A role name as aclitem's text writes it (putid in the server's acl.c).</summary>
        internal static string AclRoleName(string name)
        {
            bool safe = name.Length > 0 && name.All(c => char.IsLetterOrDigit(c) && c < 128 || c == '_');
            return safe ? name : "\"" + name.Replace("\"", "\"\"") + "\"";
        }

        private void ReadExtensions()
        {
            foreach (var r in _s.Query(
                         "SELECT e.oid, e.extname, n.nspname, e.extconfig::pg_catalog.oid[] AS extconfig, e.extcondition::pg_catalog.text[] AS extcondition " +
                         "FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace ORDER BY e.oid"))
            {
                var e = Add(new ExtensionObj(_classes["pg_extension"], r.Oid("oid"), r.Str("extname")) { SchemaName = r.Str("nspname") });
                // pg_dump: extensions only in a dump of the whole database; plpgsql is created by initdb.
                e.Dump = IncludeEverything && !(e.Name == "plpgsql" && e.Oid < FirstNormalObjectId);
                _extensions.Add(e);
                ExtensionConfig.Add((e, r.Oids("extconfig"), r.Texts("extcondition") ?? Array.Empty<string>()));
            }
        }

        /// <summary>Extensions with configuration tables, whose rows pg_dump dumps (see <see cref="CheckExtensionConfigData"/>).</summary>
        private List<(ExtensionObj Ext, uint[] Tables, string[] Conditions)> ExtensionConfig { get; } = new List<(ExtensionObj, uint[], string[])>();

        /// <summary>Step 2, after the locks: everything else.</summary>
        public void ReadAll()
        {
            CheckExtensionConfigData();
            ReadCollationNames();
            ReadTypes();
            ReadFunctions();
            ReadOperators();
            ReadCollations();
            ReadCasts();
            ReadTableDetails();
            ReadColumns();
            ReadDefaults();
            ReadChecks();
            ReadIndexes();
            ReadForeignKeys();
            ReadTriggers();
            ReadRules();
            ReadPolicies();
            ReadStatistics();
            ReadPublications();
            ReadDefaultAcls();
            ReadEventTriggers();
            ReadLargeObjects();
            ReadComments();
            FindUnsupported();
            ReadDependencies();
            MakeDataObjects();
            AddBoundaryDependencies();
        }

        // ------------------------------------------------------------------------------------------------------------
        // Types, functions, operators, collations, casts
        // ------------------------------------------------------------------------------------------------------------

        private void ReadCollationNames()
        {
            foreach (var r in _s.Query("SELECT c.oid, n.nspname, c.collname FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace"))
                _collationNames[r.Oid("oid")] = PgIdentifier.Qualify(r.Str("nspname"), r.Str("collname"));
        }

        private string? CollationName(uint oid) => oid != 0 && _collationNames.TryGetValue(oid, out var n) ? n : null;

        private bool InDumpedNamespace(uint nsp, uint classOid, uint oid) =>
            _namespaces.TryGetValue(nsp, out var ns) && ns.DumpContains && !IsExtensionMember(classOid, oid);

        private void ReadTypes()
        {
            var rows = _s.Query(
                "SELECT t.oid, t.typname, t.typnamespace, pg_catalog.pg_get_userbyid(t.typowner) AS owner, t.typtype, t.typrelid, t.typelem, t.typlen, " +
                "(SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) AS relkind, " +
                "t.typacl::pg_catalog.text[] AS acl, pg_catalog.acldefault('T', t.typowner)::pg_catalog.text[] AS acldefault, " +
                "t.typnotnull, pg_catalog.format_type(t.typbasetype, t.typtypmod) AS basetype, " +
                "pg_catalog.pg_get_expr(t.typdefaultbin, 'pg_catalog.pg_type'::pg_catalog.regclass) AS defaultbin, t.typdefault, " +
                "CASE WHEN t.typtype = 'd' AND t.typcollation <> u.typcollation THEN t.typcollation ELSE 0 END AS typcollation " +
                "FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type u ON u.oid = t.typbasetype " +
                "WHERE t.typnamespace <> 'pg_catalog'::pg_catalog.regnamespace AND t.typnamespace <> 'information_schema'::pg_catalog.regnamespace ORDER BY t.oid");
            uint pgType = _classes["pg_type"];
            foreach (var r in rows)
            {
                uint oid = r.Oid("oid");
                char typtype = r.Char("typtype");
                bool isArray = typtype == 'b' && r.Oid("typelem") != 0 && r.Long("typlen") == -1;
                bool tableRowType = typtype == 'c' && r.Char("relkind") != 'c';
                if (!_namespaces.TryGetValue(r.Oid("typnamespace"), out var ns)) continue;
                if (tableRowType || isArray || typtype == 'm')
                {
                    // Made with their table, element or range type: never written, but sorted as pg_dump's dummy types
                    // (after the tables), so that what depends on them does not pull tables up among the types.
                    Add(new DumpObject(ObjKind.DummyType, pgType, oid, r.Str("typname")) { Namespace = ns });
                    continue;
                }
                if (!InDumpedNamespace(ns.Oid, pgType, oid)) continue;
                if (typtype is 'b' or 'p')
                {
                    Unsupported.Add(new UnsupportedObject(typtype == 'b' ? "base type" : "shell type", PgIdentifier.Qualify(ns.Name, r.Str("typname"))));
                    continue;
                }
                var t = Add(new TypeObj(pgType, oid, r.Str("typname"))
                {
                    Namespace = ns, Owner = r.Str("owner"), TypType = typtype, RelId = r.Oid("typrelid"), Dump = true,
                    Acl = new Acl(r.Texts("acl"), r.Texts("acldefault")),
                });
                _types[oid] = t;
                if (typtype == 'c') _byCatalogId[(_classes["pg_class"], t.RelId)] = t;
                if (typtype == 'd')
                {
                    t.BaseType = r.Str("basetype");
                    t.NotNull = r.Bool("typnotnull");
                    t.Collation = CollationName(r.Oid("typcollation"));
                    if (r.Text("defaultbin") is string d) t.Default = d;
                    else if (r.Text("typdefault") is string lit)
                    {
                        t.Default = lit;
                        t.DefaultIsLiteral = true;
                    }
                }
            }
            var ids = _types.Keys.ToArray();
            if (ids.Length == 0) return;

            foreach (var r in _s.Query("SELECT enumtypid, enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = ANY(@ids) ORDER BY enumtypid, enumsortorder", ("ids", ids)))
                _types[r.Oid("enumtypid")].Labels.Add(r.Str("enumlabel"));

            foreach (var r in _s.Query(
                         "SELECT t.oid AS typoid, a.attname, a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod) AS atttype, a.attisdropped, " +
                         "CASE WHEN a.attcollation <> at.typcollation THEN a.attcollation ELSE 0 END AS attcollation " +
                         "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid " +
                         "LEFT JOIN pg_catalog.pg_type at ON at.oid = a.atttypid " +
                         "WHERE t.oid = ANY(@ids) AND t.typtype = 'c' AND a.attnum > 0 ORDER BY t.oid, a.attnum", ("ids", ids)))
                _types[r.Oid("typoid")].Attributes.Add(new ColumnInfo
                {
                    Number = r.Int("attnum"), Name = r.Str("attname"), Type = r.Str("atttype"), Dropped = r.Bool("attisdropped"),
                    Collation = CollationName(r.Oid("attcollation")),
                });

            foreach (var r in _s.Query(
                         "SELECT r.rngtypid, " + V(140000, "pg_catalog.format_type(r.rngmultitypid, NULL)", "NULL::pg_catalog.text") + " AS multirange, " +
                         "pg_catalog.format_type(r.rngsubtype, NULL) AS subtype, " +
                         "CASE WHEN opc.opcdefault THEN NULL ELSE pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) END AS opclass, " +
                         "CASE WHEN r.rngcollation = st.typcollation THEN 0 ELSE r.rngcollation END AS collation, " +
                         "CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::pg_catalog.text END AS canonical, " +
                         "CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::pg_catalog.text END AS subdiff " +
                         "FROM pg_catalog.pg_range r JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype " +
                         "JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc JOIN pg_catalog.pg_namespace opn ON opn.oid = opc.opcnamespace " +
                         "WHERE r.rngtypid = ANY(@ids)", ("ids", ids)))
            {
                var t = _types[r.Oid("rngtypid")];
                t.RangeSubtype = r.Str("subtype");
                t.RangeMultirange = r.Text("multirange");
                t.RangeOpclass = r.Text("opclass");
                t.Collation = CollationName(r.Oid("collation"));
                t.RangeCanonical = r.Text("canonical");
                t.RangeSubdiff = r.Text("subdiff");
                if (t.RangeCanonical is not null) Unsupported.Add(new UnsupportedObject("range type with a canonical function", t.Qualified));
            }

            var domains = _types.Values.Where(t => t.TypType == 'd').Select(t => t.Oid).ToArray();
            if (domains.Length == 0) return;
            foreach (var r in _s.Query(
                         "SELECT c.oid, c.conname, c.contypid, c.contype, pg_catalog.pg_get_constraintdef(c.oid) AS condef, c.convalidated " +
                         "FROM pg_catalog.pg_constraint c WHERE c.contypid = ANY(@ids) ORDER BY c.contypid, c.conname", ("ids", domains)))
            {
                var t = _types[r.Oid("contypid")];
                var c = Add(new ConstraintObj(ObjKind.Constraint, _classes["pg_constraint"], r.Oid("oid"), r.Str("conname"))
                {
                    Namespace = t.Namespace, Domain = t, ConType = r.Char("contype"), Definition = r.Str("condef"),
                    Validated = r.Bool("convalidated"), Dump = true,
                });
                c.Separate = !c.Validated;
                if (c.ConType == 'n') t.DomainNotNull = c;
                else t.DomainChecks.Add(c);
                // pg_dump: a domain is written after its inline constraints (their dependencies order the domain).
                if (!c.Separate) t.AddDep(c);
            }
        }

        private void ReadFunctions()
        {
            uint pgProc = _classes["pg_proc"];
            var rows = _s.Query(
                "SELECT p.oid, p.proname, p.pronamespace, pg_catalog.pg_get_userbyid(p.proowner) AS owner, p.prokind, " +
                "pg_catalog.pg_get_function_identity_arguments(p.oid) AS iargs, " +
                "pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.format_type(x, NULL) FROM pg_catalog.unnest(p.proargtypes) WITH ORDINALITY AS u(x, o) ORDER BY o), ', ') AS argtypes, " +
                "ARRAY(SELECT tn.nspname || ' ' || ty.typname FROM pg_catalog.unnest(p.proargtypes) WITH ORDINALITY AS u(x, o) " +
                "      JOIN pg_catalog.pg_type ty ON ty.oid = u.x JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace ORDER BY o) AS sortargs, " +
                "p.proacl::pg_catalog.text[] AS acl, pg_catalog.acldefault('f', p.proowner)::pg_catalog.text[] AS acldefault " +
                "FROM pg_catalog.pg_proc p WHERE p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace AND p.pronamespace <> 'information_schema'::pg_catalog.regnamespace " +
                // Functions made with something else (a range type's constructors), as pg_dump's getFuncs leaves them out.
                "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'i') ORDER BY p.oid");
            var functions = new List<FuncObj>();
            var aggregates = new List<FuncObj>();
            foreach (var r in rows)
            {
                uint oid = r.Oid("oid");
                if (!InDumpedNamespace(r.Oid("pronamespace"), pgProc, oid)) continue;
                char kind = r.Char("prokind");
                var f = Add(new FuncObj(kind == 'a' ? ObjKind.Aggregate : ObjKind.Function, pgProc, oid, r.Str("proname"))
                {
                    Namespace = _namespaces[r.Oid("pronamespace")], Owner = r.Str("owner"), ProKind = kind, IdentityArgs = r.Str("iargs"),
                    ArgTypes = r.Str("argtypes"), SortArgTypes = r.Texts("sortargs") ?? Array.Empty<string>(),
                    Acl = new Acl(r.Texts("acl"), r.Texts("acldefault")), Dump = true,
                });
                (kind == 'a' ? aggregates : functions).Add(f);
            }
            if (functions.Count > 0)
            {
                var byOid = functions.ToDictionary(f => f.Oid);
                foreach (var r in _s.Query("SELECT p.oid, pg_catalog.pg_get_functiondef(p.oid) AS def FROM pg_catalog.pg_proc p WHERE p.oid = ANY(@ids)", ("ids", byOid.Keys.ToArray())))
                    byOid[r.Oid("oid")].Definition = FunctionDefinition(r.Str("def"));
            }
            if (aggregates.Count > 0) ReadAggregates(aggregates);
        }

        /// <summary>
        /// pg_get_functiondef writes CREATE OR REPLACE; pg_dump writes CREATE (the restore must not replace an existing
        /// function silently). The rest is the server's text as it is.
        /// </summary>
        internal static string FunctionDefinition(string def)
        {
            const string prefix = "CREATE OR REPLACE ";
            if (def.StartsWith(prefix, StringComparison.Ordinal)) def = "CREATE " + def.Substring(prefix.Length);
            return def.TrimEnd('\n') + ";\n";
        }

        private void ReadAggregates(List<FuncObj> aggregates)
        {
            var byOid = aggregates.ToDictionary(a => a.Oid);
            const string op = "(SELECT 'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.' || o.oprname || ')' FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace WHERE o.oid = a.aggsortop)";
            foreach (var r in _s.Query(
                         "SELECT p.oid, a.aggtransfn::pg_catalog.text AS transfn, a.aggfinalfn::pg_catalog.text AS finalfn, a.aggtranstype::pg_catalog.regtype::pg_catalog.text AS transtype, " +
                         "a.agginitval, a.aggkind, a.aggmtransfn::pg_catalog.text AS mtransfn, a.aggminvtransfn::pg_catalog.text AS minvtransfn, a.aggmfinalfn::pg_catalog.text AS mfinalfn, " +
                         "a.aggmtranstype::pg_catalog.regtype::pg_catalog.text AS mtranstype, a.aggfinalextra, a.aggmfinalextra, a.aggtransspace, a.aggmtransspace, a.aggminitval, " +
                         "a.aggcombinefn::pg_catalog.text AS combinefn, a.aggserialfn::pg_catalog.text AS serialfn, a.aggdeserialfn::pg_catalog.text AS deserialfn, p.proparallel, " +
                         "a.aggfinalmodify, a.aggmfinalmodify, " + op + " AS sortop, pg_catalog.pg_get_function_arguments(p.oid) AS fullargs " +
                         "FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid WHERE p.oid = ANY(@ids)", ("ids", byOid.Keys.ToArray())))
            {
                var agg = byOid[r.Oid("oid")];
                char kind = r.Char("aggkind");
                char defaultModify = kind == 'n' ? 'r' : 'w';
                var d = new StringBuilder();
                d.Append("    SFUNC = ").Append(r.Str("transfn")).Append(",\n    STYPE = ").Append(r.Str("transtype"));
                if (r.Long("aggtransspace") != 0) d.Append(",\n    SSPACE = ").Append(r.Long("aggtransspace"));
                if (r.Text("agginitval") is string init) d.Append(",\n    INITCOND = ").Append(SqlText.Literal(init));
                if (r.Str("finalfn") != "-")
                {
                    d.Append(",\n    FINALFUNC = ").Append(r.Str("finalfn"));
                    if (r.Bool("aggfinalextra")) d.Append(",\n    FINALFUNC_EXTRA");
                    AppendModify(d, "FINALFUNC_MODIFY", r.Char("aggfinalmodify"), defaultModify);
                }
                if (r.Str("combinefn") != "-") d.Append(",\n    COMBINEFUNC = ").Append(r.Str("combinefn"));
                if (r.Str("serialfn") != "-") d.Append(",\n    SERIALFUNC = ").Append(r.Str("serialfn"));
                if (r.Str("deserialfn") != "-") d.Append(",\n    DESERIALFUNC = ").Append(r.Str("deserialfn"));
                if (r.Str("mtransfn") != "-")
                    d.Append(",\n    MSFUNC = ").Append(r.Str("mtransfn")).Append(",\n    MINVFUNC = ").Append(r.Str("minvtransfn"))
                     .Append(",\n    MSTYPE = ").Append(r.Str("mtranstype"));
                if (r.Long("aggmtransspace") != 0) d.Append(",\n    MSSPACE = ").Append(r.Long("aggmtransspace"));
                if (r.Text("aggminitval") is string minit) d.Append(",\n    MINITCOND = ").Append(SqlText.Literal(minit));
                if (r.Str("mfinalfn") != "-")
                {
                    d.Append(",\n    MFINALFUNC = ").Append(r.Str("mfinalfn"));
                    if (r.Bool("aggmfinalextra")) d.Append(",\n    MFINALFUNC_EXTRA");
                    AppendModify(d, "MFINALFUNC_MODIFY", r.Char("aggmfinalmodify"), defaultModify);
                }
                if (r.Text("sortop") is string sortop) d.Append(",\n    SORTOP = ").Append(sortop);
                if (kind == 'h') d.Append(",\n    HYPOTHETICAL");
                char parallel = r.Char("proparallel");
                if (parallel == 's') d.Append(",\n    PARALLEL = safe");
                else if (parallel == 'r') d.Append(",\n    PARALLEL = restricted");
                var args = agg.IdentityArgs.Length == 0 && kind == 'n' ? "*" : r.Str("fullargs");
                agg.Definition = $"CREATE AGGREGATE {PgIdentifier.Quote(agg.Namespace!.Name)}.{PgIdentifier.Quote(agg.Name)}({args}) (\n{d}\n);\n";
            }
        }

        private static void AppendModify(StringBuilder d, string option, char value, char defaultValue)
        {
            if (value == '0' || value == '\0' || value == defaultValue) return;
            d.Append(",\n    ").Append(option).Append(" = ").Append(value switch { 'r' => "READ_ONLY", 's' => "SHAREABLE", _ => "READ_WRITE" });
        }

        private void ReadOperators()
        {
            uint cls = _classes["pg_operator"];
            const string proc = "(SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = {0})";
            const string op = "(SELECT 'OPERATOR(' || pg_catalog.quote_ident(n2.nspname) || '.' || o2.oprname || ')' FROM pg_catalog.pg_operator o2 JOIN pg_catalog.pg_namespace n2 ON n2.oid = o2.oprnamespace WHERE o2.oid = {0})";
            foreach (var r in _s.Query(
                         "SELECT o.oid, o.oprname, o.oprnamespace, pg_catalog.pg_get_userbyid(o.oprowner) AS owner, o.oprkind, o.oprcanmerge, o.oprcanhash, " +
                         "CASE WHEN o.oprleft <> 0 THEN o.oprleft::pg_catalog.regtype::pg_catalog.text END AS lefttype, " +
                         "CASE WHEN o.oprright <> 0 THEN o.oprright::pg_catalog.regtype::pg_catalog.text END AS righttype, " +
                         string.Format(System.Globalization.CultureInfo.InvariantCulture, proc, "o.oprcode") + " AS code, " +
                         string.Format(System.Globalization.CultureInfo.InvariantCulture, proc, "o.oprrest") + " AS rest, " +
                         string.Format(System.Globalization.CultureInfo.InvariantCulture, proc, "o.oprjoin") + " AS join_, " +
                         string.Format(System.Globalization.CultureInfo.InvariantCulture, op, "o.oprcom") + " AS com, " +
                         string.Format(System.Globalization.CultureInfo.InvariantCulture, op, "o.oprnegate") + " AS negate " +
                         "FROM pg_catalog.pg_operator o WHERE o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace ORDER BY o.oid"))
            {
                uint oid = r.Oid("oid");
                if (!InDumpedNamespace(r.Oid("oprnamespace"), cls, oid)) continue;
                var o = Add(new OperatorObj(cls, oid, r.Str("oprname"))
                {
                    Namespace = _namespaces[r.Oid("oprnamespace")], Owner = r.Str("owner"), OprKind = r.Char("oprkind"),
                    LeftType = r.Str("lefttype"), RightType = r.Str("righttype"),
                });
                if (r.Text("code") is not string code) continue; // a shell operator, made by the one that names it
                o.Dump = true;
                var d = new StringBuilder("    FUNCTION = ").Append(code);
                if (o.LeftType.Length > 0) d.Append(",\n    LEFTARG = ").Append(o.LeftType);
                if (o.RightType.Length > 0) d.Append(",\n    RIGHTARG = ").Append(o.RightType);
                if (r.Text("com") is string com) d.Append(",\n    COMMUTATOR = ").Append(com);
                if (r.Text("negate") is string neg) d.Append(",\n    NEGATOR = ").Append(neg);
                if (r.Bool("oprcanmerge")) d.Append(",\n    MERGES");
                if (r.Bool("oprcanhash")) d.Append(",\n    HASHES");
                if (r.Text("rest") is string rest) d.Append(",\n    RESTRICT = ").Append(rest);
                if (r.Text("join_") is string join) d.Append(",\n    JOIN = ").Append(join);
                o.Definition = $"CREATE OPERATOR {PgIdentifier.Quote(o.Namespace!.Name)}.{o.Name} (\n{d}\n);\n";
            }
        }

        private void ReadCollations()
        {
            uint cls = _classes["pg_collation"];
            foreach (var r in _s.Query(
                         "SELECT c.oid, c.collname, c.collnamespace, pg_catalog.pg_get_userbyid(c.collowner) AS owner, c.collprovider, c.collisdeterministic, " +
                         "c.collcollate, c.collctype, " +
                         V(170000, "c.colllocale", V(150000, "c.colliculocale", "NULL::pg_catalog.text")) + " AS colllocale, " +
                         V(160000, "c.collicurules", "NULL::pg_catalog.text") + " AS collicurules " +
                         "FROM pg_catalog.pg_collation c WHERE c.collnamespace <> 'pg_catalog'::pg_catalog.regnamespace ORDER BY c.oid"))
            {
                uint oid = r.Oid("oid");
                if (!InDumpedNamespace(r.Oid("collnamespace"), cls, oid)) continue;
                var c = Add(new CollationObj(cls, oid, r.Str("collname")) { Namespace = _namespaces[r.Oid("collnamespace")], Owner = r.Str("owner"), Dump = true });
                char provider = r.Char("collprovider");
                var collate = r.Text("collcollate");
                var ctype = r.Text("collctype");
                if (_v < 150000)
                {
                    if (collate == "") collate = null;
                    if (ctype == "") ctype = null;
                }
                var locale = r.Text("colllocale");
                var d = new StringBuilder("CREATE COLLATION ").Append(PgIdentifier.Qualify(c.Namespace!.Name, c.Name)).Append(" (provider = ")
                    .Append(provider switch { 'b' => "builtin", 'i' => "icu", 'd' => "default", _ => "libc" });
                if (!r.Bool("collisdeterministic")) d.Append(", deterministic = false");
                if (provider == 'b') d.Append(", locale = ").Append(SqlText.Literal(locale ?? ""));
                else if (provider == 'i')
                {
                    d.Append(", locale = ").Append(SqlText.Literal((_v >= 150000 ? locale : collate) ?? ""));
                    if (r.Text("collicurules") is string rules) d.Append(", rules = ").Append(SqlText.Literal(rules));
                }
                else if (provider == 'c')
                {
                    if (collate == ctype) d.Append(", locale = ").Append(SqlText.Literal(collate ?? ""));
                    else d.Append(", lc_collate = ").Append(SqlText.Literal(collate ?? "")).Append(", lc_ctype = ").Append(SqlText.Literal(ctype ?? ""));
                }
                c.Definition = d.Append(");\n").ToString();
            }
        }

        private void ReadCasts()
        {
            if (!IncludeEverything) return;
            uint cls = _classes["pg_cast"];
            foreach (var r in _s.Query(
                         "SELECT c.oid, c.castmethod, c.castcontext, pg_catalog.format_type(c.castsource, NULL) AS source, pg_catalog.format_type(c.casttarget, NULL) AS target, " +
                         "s.typname AS sname, t.typname AS tname, " +
                         "CASE WHEN c.castfunc <> 0 THEN (SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '(' || " +
                         "  pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.format_type(x, NULL) FROM pg_catalog.unnest(p.proargtypes) WITH ORDINALITY AS u(x, o) ORDER BY o), ', ') || ')' " +
                         "  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = c.castfunc) END AS func " +
                         "FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type s ON s.oid = c.castsource JOIN pg_catalog.pg_type t ON t.oid = c.casttarget " +
                         "WHERE c.oid >= @first " +
                         // A range type's cast to its multirange comes with the type (pg_dump's getCasts leaves it out).
                         (_v >= 140000 ? "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_range r WHERE c.castsource = r.rngtypid AND c.casttarget = r.rngmultitypid) " : "") +
                         "ORDER BY c.oid", ("first", (long)FirstNormalObjectId)))
            {
                uint oid = r.Oid("oid");
                if (IsExtensionMember(cls, oid)) continue;
                var c = Add(new CastObj(cls, oid, r.Str("sname") + " " + r.Str("tname")) { Source = r.Str("source"), Target = r.Str("target"), Dump = true });
                var d = new StringBuilder($"CREATE CAST ({c.Source} AS {c.Target}) ");
                d.Append(r.Char("castmethod") switch { 'b' => "WITHOUT FUNCTION", 'i' => "WITH INOUT", _ => "WITH FUNCTION " + r.Str("func") });
                char context = r.Char("castcontext");
                if (context == 'a') d.Append(" AS ASSIGNMENT");
                else if (context == 'i') d.Append(" AS IMPLICIT");
                c.Definition = d.Append(";\n").ToString();
            }
        }

        // ------------------------------------------------------------------------------------------------------------
        // Tables and what hangs off them
        // ------------------------------------------------------------------------------------------------------------

        private uint[] DumpedTableOids(Func<TableObj, bool>? filter = null) =>
            _tables.Values.Where(t => t.Dump && (filter is null || filter(t))).Select(t => t.Oid).ToArray();

        private void ReadTableDetails()
        {
            var ids = _tables.Keys.ToArray();
            if (ids.Length == 0) return;
            foreach (var r in _s.Query(
                         "SELECT c.oid, c.relpersistence, c.relispartition, c.relrowsecurity, c.relforcerowsecurity, c.relrowsecurity AND pg_catalog.row_security_active(c.oid) AS rlsactive, c.relreplident, c.relhasindex, c.relhastriggers, " +
                         "c.relispopulated, c.relpages, CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END AS oftype, " +
                         "CASE WHEN c.relkind IN ('r', 'p', 'm') THEN COALESCE(ts.spcname, '') END AS tablespace, am.amname, " +
                         "c.relacl::pg_catalog.text[] AS acl, pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner)::pg_catalog.text[] AS acldefault, " +
                         "pg_catalog.array_remove(pg_catalog.array_remove(c.reloptions, 'check_option=local'), 'check_option=cascaded') AS reloptions, " +
                         "CASE WHEN 'check_option=local' = ANY (c.reloptions) THEN 'LOCAL' WHEN 'check_option=cascaded' = ANY (c.reloptions) THEN 'CASCADED' END AS checkoption, " +
                         "tc.reloptions AS toastoptions, " +
                         "(SELECT pg_catalog.array_agg(i.inhparent ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) AS parents, " +
                         "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) AS hascolacls, " +
                         "d.refobjid AS owningtab, d.refobjsubid AS owningcol, d.deptype AS owningdep " +
                         "FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid " +
                         "LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam " +
                         "LEFT JOIN pg_catalog.pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid " +
                         "  AND d.objsubid = 0 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') " +
                         "WHERE c.oid = ANY(@ids)", ("ids", ids)))
            {
                var t = _tables[r.Oid("oid")];
                t.Persistence = r.Char("relpersistence");
                t.IsPartition = r.Bool("relispartition");
                t.RowSecurity = r.Bool("relrowsecurity");
                t.ForceRowSecurity = r.Bool("relforcerowsecurity");
                t.RowSecurityActive = r.Bool("rlsactive");
                t.ReplIdent = r.Char("relreplident");
                t.HasIndex = r.Bool("relhasindex");
                t.HasTriggers = r.Bool("relhastriggers");
                t.IsPopulated = r.Bool("relispopulated");
                t.Pages = r.Long("relpages");
                t.OfType = r.Text("oftype");
                t.Tablespace = r.Text("tablespace");
                t.AccessMethod = t.RelKind is 'r' or 'm' ? r.Text("amname") : null;
                t.Acl = new Acl(r.Texts("acl"), r.Texts("acldefault"));
                t.RelOptions = r.Texts("reloptions");
                t.CheckOption = r.Text("checkoption");
                t.ToastOptions = r.Texts("toastoptions");
                t.HasColumnAcls = r.Bool("hascolacls");
                foreach (var p in r.Oids("parents"))
                    if (_tables.TryGetValue(p, out var parent)) t.Parents.Add(parent);
                if (!r.IsNull("owningtab"))
                {
                    t.OwningTable = r.Oid("owningtab");
                    t.OwningColumn = r.Int("owningcol");
                    t.IsIdentitySequence = r.Char("owningdep") == 'i';
                }
            }

            // pg_dump's getOwnedSeqs: an identity sequence is dumped exactly when its table is; another owned sequence
            // (serial) also when its table is.
            foreach (var seq in _tables.Values.Where(t => t.IsSequence && t.OwningTable != 0))
            {
                if (!_tables.TryGetValue(seq.OwningTable, out var owner) || IsExtensionMember(seq.ClassOid, seq.Oid)) continue;
                if (seq.IsIdentitySequence) seq.Dump = owner.Dump;
                else if (owner.Dump && !seq.Dump) seq.Dump = true;
                else continue;
                seq.DumpData = seq.Dump && !_o.Scope.SchemaOnly && !_excludeData.Any(p => p.MatchesRelation(seq.Namespace!.Name, seq.Name, true));
            }

            // Definitions from the server, only for the relations the dump writes (and holds locks on, where it can).
            var dumped = DumpedTableOids(t => t.RelKind is 'p' or 'v' or 'm' || t.IsPartition);
            if (dumped.Length > 0)
                foreach (var r in _s.Query(
                             "SELECT c.oid, CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey, " +
                             "CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partbound, " +
                             "CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef " +
                             "FROM pg_catalog.pg_class c WHERE c.oid = ANY(@ids)", ("ids", dumped)))
                {
                    var t = _tables[r.Oid("oid")];
                    t.PartKeyDef = r.Text("partkey");
                    t.PartBound = r.Text("partbound");
                    if (r.Text("viewdef") is string def) t.ViewDefinition = def.TrimEnd().TrimEnd(';');
                }

            // pg_dump's getPartitioningInfo: hash partitioning on an enum is unsafe to reload partition by partition (the
            // enum's values get other OIDs, so other hashes); such trees' data loads through their root (see DataTarget).
            if (!_o.Scope.SchemaOnly)
                foreach (var r in _s.Query(
                             "SELECT partrelid FROM pg_catalog.pg_partitioned_table WHERE (SELECT c.oid FROM pg_catalog.pg_opclass c " +
                             "JOIN pg_catalog.pg_am a ON c.opcmethod = a.oid WHERE c.opcname = 'enum_ops' " +
                             "AND c.opcnamespace = 'pg_catalog'::pg_catalog.regnamespace AND a.amname = 'hash') = ANY(partclass)"))
                    if (_tables.TryGetValue(r.Oid("partrelid"), out var partitioned)) partitioned.UnsafePartitions = true;

            var sequences = DumpedTableOids(t => t.IsSequence);
            if (sequences.Length > 0)
                foreach (var r in _s.Query(
                             "SELECT s.seqrelid, pg_catalog.format_type(s.seqtypid, NULL) AS seqtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle " +
                             "FROM pg_catalog.pg_sequence s WHERE s.seqrelid = ANY(@ids)", ("ids", sequences)))
                    _tables[r.Oid("seqrelid")].Sequence = new SequenceInfo
                    {
                        Type = r.Str("seqtype"), Start = r.Long("seqstart"), Increment = r.Long("seqincrement"), Max = r.Long("seqmax"),
                        Min = r.Long("seqmin"), Cache = r.Long("seqcache"), Cycle = r.Bool("seqcycle"),
                    };

            // pg_dump's flagInhTables: a partition is created on its own and attached to its parent afterwards.
            foreach (var t in _tables.Values.Where(t => t.IsPartition && t.Dump && t.Parents.Count == 1).OrderBy(t => t.Oid))
            {
                var attach = Add(new AttachObj<TableObj>(ObjKind.TableAttach, t.Parents[0], t) { Dump = true });
                attach.AddDep(t.Parents[0]);
                attach.AddDep(t);
            }

            var columnAcls = DumpedTableOids(t => t.HasColumnAcls);
            if (columnAcls.Length > 0)
                foreach (var r in _s.Query(
                             "SELECT a.attrelid, a.attname, a.attacl::pg_catalog.text[] AS acl FROM pg_catalog.pg_attribute a " +
                             "WHERE a.attrelid = ANY(@ids) AND NOT a.attisdropped AND a.attacl IS NOT NULL ORDER BY a.attrelid, a.attnum", ("ids", columnAcls)))
                    _tables[r.Oid("attrelid")].ColumnAcls.Add((r.Str("attname"), new Acl(r.Texts("acl"), Array.Empty<string>())));
        }

        private void ReadColumns()
        {
            var ids = DumpedTableOids(t => !t.IsSequence).Concat(ExtensionConfigTables.Select(t => t.Oid)).Distinct().ToArray();
            if (ids.Length == 0) return;
            string notNull = _v >= 180000
                ? "co.conname AS notnull_name, co.connoinherit AS notnull_noinherit, co.conislocal AS notnull_islocal, NOT co.convalidated AS notnull_invalid, "
                : "CASE WHEN a.attnotnull THEN '' END AS notnull_name, false AS notnull_noinherit, (a.attislocal OR a.attnotnull) AS notnull_islocal, false AS notnull_invalid, ";
            foreach (var r in _s.Query(
                         "SELECT a.attrelid, a.attnum, a.attname, CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END AS attstattarget, a.attstorage, t.typstorage, " +
                         "a.attisdropped, a.attislocal, pg_catalog.format_type(t.oid, a.atttypmod) AS atttype, " +
                         "pg_catalog.array_to_string(a.attoptions, ', ') AS attoptions, " +
                         "CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation ELSE 0 END AS attcollation, " +
                         notNull +
                         V(140000, "a.attcompression", "NULL::\"char\"") + " AS attcompression, a.attidentity, a.attgenerated " +
                         "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid " +
                         (_v >= 180000 ? "LEFT JOIN pg_catalog.pg_constraint co ON co.conrelid = a.attrelid AND co.contype = 'n' AND co.conkey = ARRAY[a.attnum] " : "") +
                         "WHERE a.attrelid = ANY(@ids) AND a.attnum > 0 ORDER BY a.attrelid, a.attnum", ("ids", ids)))
            {
                var t = _tables[r.Oid("attrelid")];
                var c = new ColumnInfo
                {
                    Number = r.Int("attnum"), Name = r.Str("attname"), Type = r.Str("atttype"), Dropped = r.Bool("attisdropped"),
                    IsLocal = r.Bool("attislocal"), StatTarget = r.IsNull("attstattarget") ? null : r.Int("attstattarget"),
                    Storage = r.Char("attstorage"), TypeStorage = r.Char("typstorage"), Compression = r.Char("attcompression"),
                    Options = r.Text("attoptions") is { Length: > 0 } o ? o : null, Collation = CollationName(r.Oid("attcollation")),
                    Identity = r.Char("attidentity"), Generated = r.Char("attgenerated"),
                    NotNullName = r.Text("notnull_name"), NotNullNoInherit = r.Bool("notnull_noinherit"),
                    NotNullIsLocal = r.Bool("notnull_islocal"), NotNullInvalid = r.Bool("notnull_invalid"),
                };
                if (_v >= 180000 && c.NotNullName is not null && !c.NotNullInvalid && c.NotNullName == t.Name + "_" + c.Name + "_not_null")
                    c.NotNullName = "";
                if (c.NotNullInvalid) c.NotNullName = null; // written as its own constraint (ReadChecks)
                t.Columns.Add(c);
            }
            FlagInheritedColumns();
        }

        /// <summary>pg_dump's flagInhAttrs, for NOT NULL before 18: a parent's NOT NULL is not the child's own.</summary>
        private void FlagInheritedColumns()
        {
            if (_v >= 180000) return;
            foreach (var t in _tables.Values.Where(t => t.Dump && t.Parents.Count > 0))
                foreach (var c in t.Columns.Where(c => !c.Dropped))
                    if (t.Parents.Any(p => p.Columns.Any(pc => pc.Name == c.Name && pc.NotNullName is not null)))
                        c.NotNullIsLocal = false;
        }

        /// <summary>A column is written in CREATE TABLE (pg_dump's shouldPrintColumn).</summary>
        internal static bool PrintColumn(TableObj t, ColumnInfo c) => !c.Dropped && (c.IsLocal || t.IsPartition);

        private void ReadDefaults()
        {
            var ids = DumpedTableOids(t => !t.IsSequence);
            if (ids.Length == 0) return;
            uint cls = _classes["pg_attrdef"];
            foreach (var r in _s.Query(
                         "SELECT d.oid, d.adrelid, d.adnum, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_catalog.pg_attrdef d " +
                         "WHERE d.adrelid = ANY(@ids) ORDER BY d.adrelid, d.adnum", ("ids", ids)))
            {
                var t = _tables[r.Oid("adrelid")];
                var col = t.Columns.FirstOrDefault(c => c.Number == r.Int("adnum"));
                if (col is null || col.Dropped) continue;
                var d = Add(new AttrDefObj(cls, r.Oid("oid"), t, col.Number, r.Str("expr")) { Dump = true });
                col.Default = d;
                if (col.Generated != '\0' && col.Generated != ' ')
                {
                    // No syntax writes a generation expression on its own: inline, or inherited from the parent.
                    d.Separate = false;
                    if (!PrintColumn(t, col)) d.Dump = false;
                }
                else d.Separate = t.IsView || !PrintColumn(t, col);
                if (!d.Separate && d.Dump) t.AddDep(d);
            }
        }

        private void ReadChecks()
        {
            var ids = DumpedTableOids(t => !t.IsSequence && !t.IsView);
            if (ids.Length == 0) return;
            uint cls = _classes["pg_constraint"];
            foreach (var r in _s.Query(
                         "SELECT c.oid, c.conrelid, c.conname, c.contype, pg_catalog.pg_get_constraintdef(c.oid) AS condef, c.conislocal, c.convalidated " +
                         "FROM pg_catalog.pg_constraint c WHERE c.conrelid = ANY(@ids) AND (c.contype = 'c'" +
                         (_v >= 180000 ? " OR (c.contype = 'n' AND NOT c.convalidated)" : "") + ") ORDER BY c.conrelid, c.conname", ("ids", ids)))
            {
                var t = _tables[r.Oid("conrelid")];
                var c = Add(new ConstraintObj(ObjKind.Constraint, cls, r.Oid("oid"), r.Str("conname"))
                {
                    Namespace = t.Namespace, Table = t, ConType = r.Char("contype"), Definition = r.Str("condef"),
                    IsLocal = r.Bool("conislocal"), Validated = r.Bool("convalidated"), Dump = true,
                });
                c.Separate = !c.Validated;
                if (c.ConType == 'c') t.Checks.Add(c);
                // pg_dump: a table is written after its inline CHECK constraints (their dependencies order the table).
                if (!c.Separate) t.AddDep(c);
                if (!c.IsLocal && !t.IsPartition && c.Separate) c.Dump = false;
            }
        }

        private void ReadIndexes()
        {
            var ids = DumpedTableOids(t => t.HasIndex);
            if (ids.Length == 0) return;
            uint pgClass = _classes["pg_class"], pgConstraint = _classes["pg_constraint"];
            var rows = _s.Query(
                "SELECT t.oid, i.indrelid, t.relname AS indexname, pg_catalog.pg_get_indexdef(i.indexrelid) AS indexdef, i.indisclustered, i.indisreplident, " +
                "c.oid AS conoid, c.conname, c.contype, pg_catalog.pg_get_constraintdef(c.oid, false) AS condef, " +
                "(SELECT s.spcname FROM pg_catalog.pg_tablespace s WHERE s.oid = t.reltablespace) AS tablespace, inh.inhparent AS parentidx, " +
                "ARRAY(SELECT a.attnum::pg_catalog.text || ' ' || a.attstattarget::pg_catalog.text FROM pg_catalog.pg_attribute a " +
                "      WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0 ORDER BY a.attnum) AS stattargets " +
                "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class t ON t.oid = i.indexrelid JOIN pg_catalog.pg_class t2 ON t2.oid = i.indrelid " +
                "LEFT JOIN pg_catalog.pg_constraint c ON i.indrelid = c.conrelid AND i.indexrelid = c.conindid AND c.contype IN ('p', 'u', 'x') " +
                "LEFT JOIN pg_catalog.pg_inherits inh ON inh.inhrelid = i.indexrelid " +
                "WHERE i.indrelid = ANY(@ids) AND (i.indisvalid OR t2.relkind = 'p') AND i.indisready ORDER BY i.indrelid, t.relname", ("ids", ids));
            foreach (var r in rows)
            {
                var t = _tables[r.Oid("indrelid")];
                var ix = Add(new IndexObj(pgClass, r.Oid("oid"), r.Str("indexname"), t)
                {
                    Definition = r.Str("indexdef"), Clustered = r.Bool("indisclustered"), ReplIdent = r.Bool("indisreplident"),
                    ParentIndex = r.Oid("parentidx"), Tablespace = r.Text("tablespace") ?? "", Dump = true,
                });
                _indexes[ix.Oid] = ix;
                foreach (var st in r.Texts("stattargets") ?? Array.Empty<string>())
                {
                    var parts = st.Split(' ');
                    ix.StatTargets.Add((parts[0], parts[1]));
                }
                if (!r.IsNull("conoid"))
                {
                    var c = Add(new ConstraintObj(ObjKind.Constraint, pgConstraint, r.Oid("conoid"), r.Str("conname"))
                    {
                        Namespace = t.Namespace, Table = t, ConType = r.Char("contype"), Definition = r.Str("condef"), Separate = true, Index = ix, Dump = true,
                    });
                    ix.Constraint = c; // the constraint writes its definition; the index only its comment
                }
            }
            foreach (var ix in _indexes.Values.Where(i => i.ParentIndex != 0))
                if (_indexes.TryGetValue(ix.ParentIndex, out var parent))
                {
                    var attach = Add(new AttachObj<IndexObj>(ObjKind.IndexAttach, parent, ix) { Dump = true });
                    attach.AddDep(ix);
                    attach.AddDep(parent);
                    attach.AddDep(ix.Table);
                    attach.AddDep(parent.Table);
                }
        }

        private void ReadForeignKeys()
        {
            var ids = DumpedTableOids(t => t.RelKind is 'r' or 'p');
            if (ids.Length == 0) return;
            uint cls = _classes["pg_constraint"];
            foreach (var r in _s.Query(
                         "SELECT c.oid, c.conrelid, c.conname, c.confrelid, c.conindid, pg_catalog.pg_get_constraintdef(c.oid) AS condef " +
                         "FROM pg_catalog.pg_constraint c WHERE c.conrelid = ANY(@ids) AND c.contype = 'f' AND c.conparentid = 0 ORDER BY c.conrelid, c.conname", ("ids", ids)))
            {
                var t = _tables[r.Oid("conrelid")];
                var fk = Add(new ConstraintObj(ObjKind.FkConstraint, cls, r.Oid("oid"), r.Str("conname"))
                {
                    Namespace = t.Namespace, Table = t, ConType = 'f', Definition = r.Str("condef"), Separate = true,
                    ReferencedTable = r.Oid("confrelid"), Dump = true,
                });
                // pg_dump's addConstrChildIdxDeps: a key referencing a partitioned table waits for its index's partitions.
                if (_indexes.TryGetValue(r.Oid("conindid"), out var refIndex)) AddAttachDependencies(fk, refIndex);
            }
        }

        private void AddAttachDependencies(DumpObject fk, IndexObj index)
        {
            foreach (var attach in Objects.OfType<AttachObj<IndexObj>>().Where(a => a.Parent == index))
            {
                fk.AddDep(attach);
                AddAttachDependencies(fk, attach.Partition);
            }
        }

        private void ReadTriggers()
        {
            var ids = DumpedTableOids(t => t.HasTriggers);
            if (ids.Length == 0) return;
            string sql;
            if (_v >= 150000)
                sql = "SELECT t.oid, t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid, false) AS tgdef, t.tgenabled, t.tgparentid <> 0 AS tgispartition " +
                      "FROM pg_catalog.pg_trigger t LEFT JOIN pg_catalog.pg_trigger u ON u.oid = t.tgparentid " +
                      "WHERE t.tgrelid = ANY(@ids) AND ((NOT t.tgisinternal AND t.tgparentid = 0) OR t.tgenabled <> u.tgenabled) ORDER BY t.tgrelid, t.tgname";
            else if (_v >= 130000)
                sql = "SELECT t.oid, t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid, false) AS tgdef, t.tgenabled, t.tgisinternal AS tgispartition " +
                      "FROM pg_catalog.pg_trigger t LEFT JOIN pg_catalog.pg_trigger u ON u.oid = t.tgparentid " +
                      "WHERE t.tgrelid = ANY(@ids) AND (NOT t.tgisinternal OR t.tgenabled <> u.tgenabled) ORDER BY t.tgrelid, t.tgname";
            else
                sql = "SELECT t.oid, t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid, false) AS tgdef, t.tgenabled, t.tgisinternal AS tgispartition " +
                      "FROM pg_catalog.pg_trigger t LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass " +
                      "  AND d.refclassid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND d.objid = t.oid " +
                      "LEFT JOIN pg_catalog.pg_trigger pt ON pt.oid = d.refobjid " +
                      "WHERE t.tgrelid = ANY(@ids) AND (NOT t.tgisinternal OR t.tgenabled <> pt.tgenabled) ORDER BY t.tgrelid, t.tgname";
            uint cls = _classes["pg_trigger"];
            foreach (var r in _s.Query(sql, ("ids", ids)))
            {
                var t = _tables[r.Oid("tgrelid")];
                Add(new TriggerObj(cls, r.Oid("oid"), r.Str("tgname"), t)
                {
                    Definition = r.Str("tgdef"), Enabled = r.Char("tgenabled"), IsPartitionClone = r.Bool("tgispartition"), Dump = true,
                });
            }
        }

        private void ReadRules()
        {
            var ids = _tables.Keys.ToArray();
            if (ids.Length == 0) return;
            uint cls = _classes["pg_rewrite"];
            var rules = new List<RuleObj>();
            foreach (var r in _s.Query(
                         "SELECT r.oid, r.rulename, r.ev_class, r.ev_type, r.is_instead, r.ev_enabled FROM pg_catalog.pg_rewrite r WHERE r.ev_class = ANY(@ids) ORDER BY r.oid", ("ids", ids)))
            {
                var t = _tables[r.Oid("ev_class")];
                var rule = Add(new RuleObj(cls, r.Oid("oid"), r.Str("rulename"), t)
                {
                    EvType = r.Char("ev_type"), IsInstead = r.Bool("is_instead"), Enabled = r.Char("ev_enabled"), Dump = t.Dump,
                });
                if (rule.IsViewSelect)
                {
                    // pg_dump's getRules: a view follows its ON SELECT rule, whose dependencies are the view's.
                    t.AddDep(rule);
                    rule.Separate = false;
                }
                else
                {
                    rule.AddDep(t);
                    rule.Separate = true;
                    rules.Add(rule);
                }
            }
            var separate = rules.Where(r => r.Dump).Select(r => r.Oid).ToArray();
            if (separate.Length == 0) return;
            var byOid = rules.ToDictionary(r => r.Oid);
            foreach (var r in _s.Query("SELECT r.oid, pg_catalog.pg_get_ruledef(r.oid) AS def FROM pg_catalog.pg_rewrite r WHERE r.oid = ANY(@ids)", ("ids", separate)))
                byOid[r.Oid("oid")].Definition = r.Str("def");
        }

        private void ReadPolicies()
        {
            uint cls = _classes["pg_policy"];
            foreach (var t in _tables.Values.Where(t => t.Dump && t.RowSecurity).OrderBy(t => t.Oid))
            {
                var enable = Add(new PolicyObj(0, 0, null, t) { Dump = true });
                enable.AddDep(t);
            }
            var ids = DumpedTableOids(t => t.RelKind is 'r' or 'p' or 'f');
            if (ids.Length == 0) return;
            foreach (var r in _s.Query(
                         "SELECT p.oid, p.polname, p.polrelid, p.polcmd, p.polpermissive, " +
                         "CASE WHEN p.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(rolname) FROM pg_catalog.pg_roles WHERE oid = ANY(p.polroles)), ', ') END AS polroles, " +
                         "pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS polqual, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS polwithcheck " +
                         "FROM pg_catalog.pg_policy p WHERE p.polrelid = ANY(@ids) ORDER BY p.polrelid, p.polname", ("ids", ids)))
            {
                var t = _tables[r.Oid("polrelid")];
                Add(new PolicyObj(cls, r.Oid("oid"), r.Str("polname"), t)
                {
                    Command = r.Char("polcmd"), Permissive = r.Bool("polpermissive"), Roles = r.Text("polroles"),
                    Using = r.Text("polqual"), WithCheck = r.Text("polwithcheck"), Dump = true,
                });
            }
        }

        private void ReadStatistics()
        {
            uint cls = _classes["pg_statistic_ext"];
            string target = _v >= 130000 ? "CASE WHEN s.stxstattarget >= 0 THEN s.stxstattarget END" : "NULL::integer";
            var stats = new List<StatsExtObj>();
            foreach (var r in _s.Query(
                         "SELECT s.oid, s.stxname, s.stxnamespace, pg_catalog.pg_get_userbyid(s.stxowner) AS owner, s.stxrelid, " + target + " AS stattarget " +
                         "FROM pg_catalog.pg_statistic_ext s ORDER BY s.oid"))
            {
                uint oid = r.Oid("oid");
                if (!_tables.TryGetValue(r.Oid("stxrelid"), out var table) || !table.Dump) continue;
                if (!InDumpedNamespace(r.Oid("stxnamespace"), cls, oid)) continue;
                stats.Add(Add(new StatsExtObj(cls, oid, r.Str("stxname"))
                {
                    Namespace = _namespaces[r.Oid("stxnamespace")], Owner = r.Str("owner"), Table = table,
                    StatTarget = r.IsNull("stattarget") ? null : r.Int("stattarget"), Dump = true,
                }));
            }
            if (stats.Count == 0) return;
            var byOid = stats.ToDictionary(s => s.Oid);
            foreach (var r in _s.Query("SELECT s.oid, pg_catalog.pg_get_statisticsobjdef(s.oid) AS def FROM pg_catalog.pg_statistic_ext s WHERE s.oid = ANY(@ids)", ("ids", byOid.Keys.ToArray())))
                byOid[r.Oid("oid")].Definition = r.Str("def");
        }

        private void ReadPublications()
        {
            if (!IncludeEverything) return;
            uint cls = _classes["pg_publication"];
            var pubs = new Dictionary<uint, PublicationObj>();
            foreach (var r in _s.Query(
                         "SELECT p.oid, p.pubname, pg_catalog.pg_get_userbyid(p.pubowner) AS owner, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, " +
                         V(130000, "p.pubviaroot", "false") + " AS pubviaroot, " + V(180000, "p.pubgencols = 's'", "false") + " AS pubgencols " +
                         "FROM pg_catalog.pg_publication p ORDER BY p.oid"))
            {
                var p = Add(new PublicationObj(cls, r.Oid("oid"), r.Str("pubname")) { Owner = r.Str("owner"), Dump = true });
                pubs[p.Oid] = p;
                var ops = new List<string>();
                if (r.Bool("pubinsert")) ops.Add("insert");
                if (r.Bool("pubupdate")) ops.Add("update");
                if (r.Bool("pubdelete")) ops.Add("delete");
                if (r.Bool("pubtruncate")) ops.Add("truncate");
                var d = new StringBuilder("CREATE PUBLICATION ").Append(PgIdentifier.Quote(p.Name));
                if (r.Bool("puballtables")) d.Append(" FOR ALL TABLES");
                d.Append(" WITH (publish = '").Append(string.Join(", ", ops)).Append('\'');
                if (r.Bool("pubviaroot")) d.Append(", publish_via_partition_root = true");
                if (r.Bool("pubgencols")) d.Append(", publish_generated_columns = stored");
                p.Definition = d.Append(");\n").ToString();
            }
            if (pubs.Count == 0) return;
            foreach (var r in _s.Query(
                         "SELECT pr.oid, pr.prpubid, pr.prrelid, " +
                         V(150000, "pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)", "NULL::pg_catalog.text") + " AS prqual, " +
                         V(150000, "CASE WHEN pr.prattrs IS NOT NULL THEN (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) " +
                                   "FROM pg_catalog.pg_attribute a WHERE a.attrelid = pr.prrelid AND a.attnum = ANY(pr.prattrs::pg_catalog.int2[])) END", "NULL::pg_catalog.text") + " AS prattrs " +
                         "FROM pg_catalog.pg_publication_rel pr ORDER BY pr.oid"))
            {
                if (!pubs.TryGetValue(r.Oid("prpubid"), out var pub) || !_tables.TryGetValue(r.Oid("prrelid"), out var table) || !table.Dump) continue;
                var rel = Add(new PublicationRelObj(_classes["pg_publication_rel"], r.Oid("oid"), pub, table) { Columns = r.Text("prattrs"), Where = r.Text("prqual"), Dump = true });
                rel.AddDep(pub);
                rel.AddDep(table);
            }
            if (_v < 150000) return;
            foreach (var r in _s.Query("SELECT pn.oid, pn.pnpubid, pn.pnnspid FROM pg_catalog.pg_publication_namespace pn ORDER BY pn.oid"))
            {
                if (!pubs.TryGetValue(r.Oid("pnpubid"), out var pub) || !_namespaces.TryGetValue(r.Oid("pnnspid"), out var ns) || !ns.DumpContains) continue;
                var rel = Add(new PublicationSchemaObj(_classes["pg_publication_namespace"], r.Oid("oid"), pub, ns) { Dump = true });
                rel.AddDep(pub);
                rel.AddDep(ns);
            }
        }

        private void ReadDefaultAcls()
        {
            uint cls = _classes["pg_default_acl"];
            foreach (var r in _s.Query(
                         "SELECT d.oid, pg_catalog.pg_get_userbyid(d.defaclrole) AS role, d.defaclnamespace, d.defaclobjtype, d.defaclacl::pg_catalog.text[] AS acl, " +
                         "CASE WHEN d.defaclnamespace = 0 THEN pg_catalog.acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's'::\"char\" ELSE d.defaclobjtype END, d.defaclrole)::pg_catalog.text[] " +
                         "ELSE '{}'::pg_catalog.text[] END AS acldefault FROM pg_catalog.pg_default_acl d ORDER BY d.oid"))
            {
                uint nsp = r.Oid("defaclnamespace");
                NamespaceObj? ns = null;
                bool dump;
                if (nsp != 0)
                {
                    if (!_namespaces.TryGetValue(nsp, out ns)) continue;
                    dump = ns.DumpContains;
                }
                else dump = IncludeEverything;
                char objtype = r.Char("defaclobjtype");
                var type = objtype switch { 'r' => "TABLES", 'S' => "SEQUENCES", 'f' => "FUNCTIONS", 'T' => "TYPES", 'n' => "SCHEMAS", 'L' => "LARGE OBJECTS", _ => "" };
                if (type.Length == 0) continue;
                Add(new DefaultAclObj(cls, r.Oid("oid"), type)
                {
                    Namespace = ns, Role = r.Str("role"), ObjectType = type, Acl = new Acl(r.Texts("acl"), r.Texts("acldefault")), Dump = dump,
                });
            }
        }

        private void ReadEventTriggers()
        {
            if (!IncludeEverything) return;
            uint cls = _classes["pg_event_trigger"];
            foreach (var r in _s.Query(
                         "SELECT e.oid, e.evtname, e.evtevent, pg_catalog.pg_get_userbyid(e.evtowner) AS owner, e.evtenabled, " +
                         "pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_literal(x) FROM pg_catalog.unnest(e.evttags) AS t(x)), ', ') AS tags, " +
                         "(SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = e.evtfoid) AS func " +
                         "FROM pg_catalog.pg_event_trigger e ORDER BY e.oid"))
            {
                uint oid = r.Oid("oid");
                if (IsExtensionMember(cls, oid)) continue;
                var et = Add(new EventTriggerObj(cls, oid, r.Str("evtname")) { Owner = r.Str("owner"), Dump = true });
                var q = PgIdentifier.Quote(et.Name);
                var d = new StringBuilder("CREATE EVENT TRIGGER ").Append(q).Append(" ON ").Append(PgIdentifier.Quote(r.Str("evtevent")));
                if (r.Str("tags").Length > 0) d.Append("\n         WHEN TAG IN (").Append(r.Str("tags")).Append(')');
                d.Append("\n   EXECUTE FUNCTION ").Append(r.Str("func")).Append("();\n");
                char enabled = r.Char("evtenabled");
                if (enabled != 'O')
                    d.Append("\nALTER EVENT TRIGGER ").Append(q).Append(' ')
                     .Append(enabled switch { 'D' => "DISABLE", 'A' => "ENABLE ALWAYS", 'R' => "ENABLE REPLICA", _ => "ENABLE" }).Append(";\n");
                et.Definition = d.ToString();
            }
        }

        private void ReadLargeObjects()
        {
            // pg_dump: large objects go with a dump of the whole database's data.
            if (!IncludeEverything || _o.Scope.SchemaOnly) return;
            var list = new List<LargeObjectInfo>();
            foreach (var r in _s.Query(
                         "SELECT l.oid, pg_catalog.pg_get_userbyid(l.lomowner) AS owner, l.lomacl::pg_catalog.text[] AS acl, " +
                         "pg_catalog.acldefault('L', l.lomowner)::pg_catalog.text[] AS acldefault FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid"))
                list.Add(new LargeObjectInfo { Oid = r.Oid("oid"), Owner = r.Str("owner"), Acl = new Acl(r.Texts("acl"), r.Texts("acldefault")) });
            if (list.Count == 0) return;
            var meta = Add(new LargeObjectsObj(ObjKind.LargeObject, list) { Dump = true });
            var data = Add(new LargeObjectsObj(ObjKind.LargeObjectData, list) { Dump = true });
            data.AddDep(meta);
        }

        private void ReadComments()
        {
            foreach (var r in _s.Query(
                         "SELECT d.classoid, d.objoid, d.objsubid, d.description FROM pg_catalog.pg_description d " +
                         "WHERE d.objoid >= @first OR d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass", ("first", (long)FirstNormalObjectId)))
                Comments[(r.Oid("classoid"), r.Oid("objoid"), r.Int("objsubid"))] = r.Str("description");
            foreach (var r in _s.Query("SELECT l.classoid, l.objoid, l.objsubid, l.provider, l.label FROM pg_catalog.pg_seclabel l ORDER BY l.provider"))
            {
                var key = (r.Oid("classoid"), r.Oid("objoid"), r.Int("objsubid"));
                if (!SecurityLabels.TryGetValue(key, out var list)) SecurityLabels[key] = list = new List<(string, string)>();
                list.Add((r.Str("provider"), r.Str("label")));
            }
        }

        // ------------------------------------------------------------------------------------------------------------
        // What the engine does not reproduce
        // ------------------------------------------------------------------------------------------------------------

        /// <summary>
        /// Extension configuration tables hold rows pg_dump dumps (with the extension's WHERE condition). Whole tables
        /// are copied; a condition (catalog text, never put into SQL here) with rows to filter is refused.
        /// </summary>
        private void CheckExtensionConfigData()
        {
            foreach (var (ext, tables, conditions) in ExtensionConfig)
            {
                if (!ext.Dump) continue;
                for (int i = 0; i < tables.Length; i++)
                {
                    if (!_tables.TryGetValue(tables[i], out var t) || t.RelKind != 'r') continue;
                    if (_excludeTables.Any(p => p.MatchesRelation(t.Namespace!.Name, t.Name, true)) || _o.Scope.SchemaOnly) continue;
                    var condition = i < conditions.Length ? conditions[i] : "";
                    if (condition.Length == 0)
                    {
                        t.DumpData = true;
                        ExtensionConfigTables.Add(t);
                    }
                    else if (_s.Query("SELECT EXISTS (SELECT 1 FROM " + t.Qualified + ") AS rows")[0].Bool("rows"))
                        Unsupported.Add(new UnsupportedObject("extension configuration table with a row filter", $"{t.Qualified} of extension {ext.Name}"));
                }
            }
        }

        /// <summary>Configuration tables of extensions whose rows are dumped (the tables come with CREATE EXTENSION).</summary>
        public List<TableObj> ExtensionConfigTables { get; } = new List<TableObj>();

        private void FindUnsupported()
        {
            foreach (var t in _tables.Values.Where(t => t.Dump && t.RelKind == 'f'))
                Unsupported.Add(new UnsupportedObject("foreign table", t.Qualified));
            var dumpedNamespaces = _namespaces.Values.Where(n => n.DumpContains).Select(n => n.Oid).ToArray();
            var sb = new StringBuilder();
            void Kind(string kind, string sql, bool everything)
            {
                if (everything && !IncludeEverything) return;
                if (sb.Length > 0) sb.Append(" UNION ALL ");
                sb.Append("SELECT ").Append(SqlText.Literal(kind)).Append(" AS kind, x.name FROM (").Append(sql).Append(") x");
            }
            const string notMember = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '{0}'::pg_catalog.regclass AND d.objid = o.oid AND d.deptype = 'e')";
            string NotMember(string catalog) => string.Format(System.Globalization.CultureInfo.InvariantCulture, notMember, catalog);
            Kind("foreign-data wrapper", "SELECT pg_catalog.quote_ident(o.fdwname) AS name FROM pg_catalog.pg_foreign_data_wrapper o WHERE " + NotMember("pg_catalog.pg_foreign_data_wrapper"), true);
            Kind("foreign server", "SELECT pg_catalog.quote_ident(o.srvname) AS name FROM pg_catalog.pg_foreign_server o WHERE " + NotMember("pg_catalog.pg_foreign_server"), true);
            Kind("subscription", "SELECT pg_catalog.quote_ident(o.subname) AS name FROM pg_catalog.pg_subscription o WHERE o.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())", true);
            Kind("procedural language", "SELECT pg_catalog.quote_ident(o.lanname) AS name FROM pg_catalog.pg_language o WHERE o.oid >= 16384 AND " + NotMember("pg_catalog.pg_language"), true);
            Kind("access method", "SELECT pg_catalog.quote_ident(o.amname) AS name FROM pg_catalog.pg_am o WHERE o.oid >= 16384 AND " + NotMember("pg_catalog.pg_am"), true);
            Kind("transform", "SELECT pg_catalog.format_type(o.trftype, NULL) || ' language ' || l.lanname AS name FROM pg_catalog.pg_transform o JOIN pg_catalog.pg_language l ON l.oid = o.trflang WHERE " + NotMember("pg_catalog.pg_transform"), true);
            void InSchema(string kind, string catalog, string nameColumn, string nspColumn) =>
                Kind(kind, $"SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(o.{nameColumn}) AS name FROM pg_catalog.{catalog} o " +
                           $"JOIN pg_catalog.pg_namespace n ON n.oid = o.{nspColumn} WHERE o.{nspColumn} = ANY(@nsps) AND " + NotMember("pg_catalog." + catalog), false);
            InSchema("text search configuration", "pg_ts_config", "cfgname", "cfgnamespace");
            InSchema("text search dictionary", "pg_ts_dict", "dictname", "dictnamespace");
            InSchema("text search parser", "pg_ts_parser", "prsname", "prsnamespace");
            InSchema("text search template", "pg_ts_template", "tmplname", "tmplnamespace");
            InSchema("conversion", "pg_conversion", "conname", "connamespace");
            InSchema("operator class", "pg_opclass", "opcname", "opcnamespace");
            InSchema("operator family", "pg_opfamily", "opfname", "opfnamespace");
            foreach (var r in _s.Query(sb + " ORDER BY 1, 2", ("nsps", dumpedNamespaces)))
                Unsupported.Add(new UnsupportedObject(r.Str("kind"), r.Str("name")));

            foreach (var t in _tables.Values.Where(t => t.Dump && t.AccessMethod is not null && t.AccessMethod != "heap"))
                Unsupported.Add(new UnsupportedObject($"table with access method {t.AccessMethod}", t.Qualified));

            // Privileges changed on extension members or on pg_catalog's objects, which pg_dump writes as GRANT/REVOKE.
            if (IncludeEverything && !_o.Scope.NoPrivileges && !_o.Scope.DataOnly)
            {
                const string changed =
                    "SELECT {0} AS name FROM {1} o LEFT JOIN pg_catalog.pg_init_privs pip ON pip.classoid = '{2}'::pg_catalog.regclass AND pip.objoid = o.oid AND pip.objsubid = 0 " +
                    "WHERE ({3}) AND o.{4} IS DISTINCT FROM pip.initprivs AND (o.{4} IS NOT NULL OR pip.initprivs IS NOT NULL)";
                string memberOrCatalog(string catalog, string nsp) =>
                    $"o.{nsp} = 'pg_catalog'::pg_catalog.regnamespace OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '{catalog}'::pg_catalog.regclass AND d.objid = o.oid AND d.deptype = 'e')";
                string q(string name, string table, string catalog, string nsp, string acl) =>
                    string.Format(System.Globalization.CultureInfo.InvariantCulture, changed, name, table, catalog, memberOrCatalog(catalog, nsp), acl);
                var sql = q("o.oid::pg_catalog.regclass::pg_catalog.text", "pg_catalog.pg_class", "pg_catalog.pg_class", "relnamespace", "relacl") + " UNION ALL " +
                          q("o.oid::pg_catalog.regprocedure::pg_catalog.text", "pg_catalog.pg_proc", "pg_catalog.pg_proc", "pronamespace", "proacl") + " UNION ALL " +
                          q("o.oid::pg_catalog.regtype::pg_catalog.text", "pg_catalog.pg_type", "pg_catalog.pg_type", "typnamespace", "typacl");
                foreach (var r in _s.Query(sql))
                    Unsupported.Add(new UnsupportedObject("privileges changed on a system or extension object", r.Str("name")));
                foreach (var r in _s.Query(
                             "SELECT pg_catalog.quote_ident(n.nspname) AS name FROM pg_catalog.pg_namespace n LEFT JOIN pg_catalog.pg_init_privs pip " +
                             "ON pip.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND pip.objoid = n.oid WHERE n.nspname = 'pg_catalog' AND n.nspacl IS DISTINCT FROM pip.initprivs"))
                    Unsupported.Add(new UnsupportedObject("privileges changed on a system or extension object", "schema " + r.Str("name")));
            }
        }

        // ------------------------------------------------------------------------------------------------------------
        // Dependencies (pg_dump's getDependencies) and data objects
        // ------------------------------------------------------------------------------------------------------------

        private void ReadDependencies()
        {
            uint pgClass = _classes["pg_class"], pgType = _classes["pg_type"];
            foreach (var r in _s.Query(
                         "SELECT d.classid, d.objid, d.refclassid, d.refobjid, d.deptype FROM pg_catalog.pg_depend d " +
                         "WHERE d.deptype <> 'p' AND (d.objid >= @first OR d.refobjid >= @first) ORDER BY d.classid, d.objid", ("first", (long)FirstNormalObjectId)))
            {
                var obj = Resolve(r.Oid("classid"), r.Oid("objid"));
                var refObj = Resolve(r.Oid("refclassid"), r.Oid("refobjid"));
                if (obj == refObj) continue;
                // A composite type's pg_class row depends on the type (reversed for ordering, as pg_dump does).
                if (r.Char("deptype") == 'i' && r.Oid("classid") == pgClass && r.Oid("refclassid") == pgType && obj.Kind == ObjKind.Shadow)
                    refObj.AddDep(obj);
                else obj.AddDep(refObj);
            }
            // A sequence is written with its table's other objects; pg_dump sorts it after the table (owned-by) or
            // with its identity column.
            foreach (var seq in _tables.Values.Where(t => t.IsSequence && t.OwningTable != 0))
                if (_tables.TryGetValue(seq.OwningTable, out var owner) && seq.IsIdentitySequence) seq.AddDep(owner);

            // Materialized views are refreshed after the ones they read (pg_dump's buildMatViewRefreshDependencies).
            foreach (var mv in _tables.Values.Where(t => t.IsMatView))
                foreach (var rule in Objects.OfType<RuleObj>().Where(r => r.Table == mv && r.IsViewSelect))
                    foreach (int dep in rule.Deps)
                        if (Objects[dep - 1] is TableObj other && other.IsMatView && other != mv) MatViewReads.Add((mv, other));
        }

        private readonly List<(TableObj MatView, TableObj Reads)> MatViewReads = new List<(TableObj, TableObj)>();

        /// <summary>
        /// The object a catalog id stands for; an object the dump does not know becomes a shadow: never written, sorted
        /// last (<see cref="DumpSorter"/>) so that it passes dependencies through without pulling anything forward.
        /// </summary>
        private DumpObject Resolve(uint classOid, uint oid) =>
            _byCatalogId.TryGetValue((classOid, oid), out var obj) ? obj : Add(new DumpObject(ObjKind.Shadow, classOid, oid, ""));

        /// <summary>
        /// Tables whose rows this dump would read and that row-level security applies to for this role: with
        /// row_security off (as pg_dump reads) the server refuses them, so the dump stops before it starts.
        /// </summary>
        public List<string> RowSecurityBlocked() =>
            _tables.Values.Where(t => t.DataObj is TableDataObj { Kind: ObjKind.TableData, Dump: true } && t.RowSecurityActive)
                .OrderBy(t => t.Namespace!.Name, StringComparer.Ordinal).ThenBy(t => t.Name, StringComparer.Ordinal)
                .Select(t => PgIdentifier.Qualify(t.Namespace!.Name, t.Name)).ToList();

        private void MakeDataObjects()
        {
            foreach (var t in _tables.Values.OrderBy(t => t.Oid))
            {
                if (!t.DumpData || _o.Scope.SchemaOnly && !ExtensionConfigTables.Contains(t)) continue;
                if (!t.Dump && !ExtensionConfigTables.Contains(t)) continue;
                if (t.IsSequence)
                {
                    var set = Add(new TableDataObj(ObjKind.SequenceSet, t) { Dump = true });
                    set.AddDep(t);
                    t.DataObj = set;
                }
                else if (t.IsMatView)
                {
                    if (_o.Scope.DataOnly) continue;
                    var refresh = Add(new TableDataObj(ObjKind.RefreshMatView, t) { Dump = t.IsPopulated });
                    refresh.AddDep(t);
                    t.DataObj = refresh;
                }
                else if (t.RelKind == 'r')
                {
                    var data = Add(new TableDataObj(ObjKind.TableData, t) { Dump = true });
                    data.AddDep(t);
                    t.DataObj = data;
                }
            }
            foreach (var (mv, reads) in MatViewReads)
                if (mv.DataObj is not null && reads.DataObj is not null)
                {
                    mv.DataObj.AddDep(reads.DataObj);
                    if (!reads.IsPopulated) mv.DataObj.Dump = false;
                }
            if (_o.Scope.DataOnly)
            {
                // pg_dump's getTableDataFKConstraints: without the schema, referenced tables' rows load first.
                foreach (var fk in Objects.OfType<ConstraintObj>().Where(c => c.Kind == ObjKind.FkConstraint))
                    if (fk.Table?.DataObj is TableDataObj data && _tables.TryGetValue(fk.ReferencedTable, out var referenced) && referenced.DataObj is TableDataObj refData)
                        data.AddDep(refData);
            }
        }

        /// <summary>pg_dump's addBoundaryDependencies.</summary>
        private void AddBoundaryDependencies()
        {
            foreach (var o in Objects)
            {
                switch (o.Kind)
                {
                    case ObjKind.Namespace: case ObjKind.Extension: case ObjKind.Type: case ObjKind.Function: case ObjKind.Aggregate:
                    case ObjKind.Operator: case ObjKind.Collation: case ObjKind.Table: case ObjKind.TableAttach: case ObjKind.AttrDef:
                    case ObjKind.Cast: case ObjKind.DummyType:
                        PreDataBoundary.AddDep(o);
                        break;
                    case ObjKind.TableData: case ObjKind.SequenceSet: case ObjKind.LargeObject: case ObjKind.LargeObjectData:
                        o.AddDep(PreDataBoundary);
                        PostDataBoundary.AddDep(o);
                        break;
                    case ObjKind.Index: case ObjKind.IndexAttach: case ObjKind.StatsExt: case ObjKind.RefreshMatView: case ObjKind.Trigger:
                    case ObjKind.EventTrigger: case ObjKind.DefaultAcl: case ObjKind.Policy: case ObjKind.Publication: case ObjKind.PublicationRel:
                    case ObjKind.PublicationSchema:
                        o.AddDep(PostDataBoundary);
                        break;
                    case ObjKind.Rule:
                        if (((RuleObj)o).Separate) o.AddDep(PostDataBoundary);
                        break;
                    case ObjKind.Constraint: case ObjKind.FkConstraint:
                        if (((ConstraintObj)o).Separate) o.AddDep(PostDataBoundary);
                        break;
                    case ObjKind.PostDataBoundary:
                        o.AddDep(PreDataBoundary);
                        break;
                }
            }
        }

        /// <summary>The rows of a sequence, read now (sequences are not transactional: pg_dump reads them the same way).</summary>
        public (long Last, bool Called) SequenceValue(TableObj seq)
        {
            var rows = _s.Query("SELECT last_value, is_called FROM " + seq.Qualified);
            return (rows[0].Long("last_value"), rows[0].Bool("is_called"));
        }
    }
}
