using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace PgBackup.Native
{
    /// <summary>
    /// Writes the plain script: pg_dump's header and session settings, every object's entry in the sorted order
    /// (its definition, owner, comments and security labels together), table data through a <see cref="TableDataCopier"/>,
    /// then the ACL pass (GRANT/REVOKE, default privileges) and the post-ACL pass (event triggers, REFRESH MATERIALIZED
    /// VIEW), and the footer. The statements are the shapes pg_dump writes (pg_dump.c's dumpXxx functions,
    /// pg_backup_archiver.c's _printTocEntry), so <see cref="PlainScriptPolicy"/> accepts all of them.
    /// </summary>
    internal sealed class ScriptWriter
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        private readonly Stream _out;
        private readonly CatalogReader _c;
        private readonly NativeDumpOptions _o;
        private readonly TableDataCopier _data;
        private readonly StringBuilder _acls = new StringBuilder();
        private readonly List<DumpObject> _postAcl = new List<DumpObject>();
        private string? _tablespace;
        private string? _accessMethod;

        public ScriptWriter(Stream output, CatalogReader catalog, NativeDumpOptions options, TableDataCopier data)
        {
            _out = output;
            _c = catalog;
            _o = options;
            _data = data;
        }

        private bool Schema => !_o.Scope.DataOnly;
        private bool Data => !_o.Scope.SchemaOnly;

        private void Write(string text)
        {
            var bytes = Utf8.GetBytes(text);
            _out.Write(bytes, 0, bytes.Length);
        }

        public void WriteScript(List<DumpObject> sorted, string serverVersion, string restrictKey)
        {
            var h = new StringBuilder();
            h.Append("--\n-- PostgreSQL database dump\n--\n\n");
            h.Append("\\restrict ").Append(restrictKey).Append("\n\n");
            h.Append("-- Dumped from database version ").Append(SqlText.CommentLine(serverVersion)).Append('\n');
            h.Append("-- Dumped by PgBackup ").Append(_o.ModuleVersion).Append(" (native engine)\n\n");
            h.Append("SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\n");
            if (_c.Version >= 170000) h.Append("SET transaction_timeout = 0;\n");
            h.Append("SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n");
            h.Append("SELECT pg_catalog.set_config('search_path', '', false);\n");
            h.Append("SET check_function_bodies = false;\nSET xmloption = content;\nSET client_min_messages = warning;\nSET row_security = off;\n\n");
            Write(h.ToString());

            for (int i = 0; i < sorted.Count; i++)
            {
                var obj = sorted[i];
                if (obj.Kind == ObjKind.TableData)
                {
                    // The table data is one run in the sorted order: copied together (on several connections with -Jobs).
                    int end = i;
                    while (end < sorted.Count && sorted[end].Kind == ObjKind.TableData) end++;
                    var tables = sorted.Skip(i).Take(end - i).Cast<TableDataObj>().Where(d => d.Dump && Data).ToList();
                    if (tables.Count > 0) _data.CopyAll(tables, _out, TableDataHeader);
                    i = end - 1;
                    continue;
                }
                if (obj.Dump) WriteObject(obj);
            }

            if (_acls.Length > 0) Write(_acls.ToString());
            foreach (var obj in _postAcl) WritePostAcl(obj);
            Write("--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict " + restrictKey + "\n\n");
        }

        // ------------------------------------------------------------------------------------------------------------
        // Entries
        // ------------------------------------------------------------------------------------------------------------

        private void Entry(string tag, string desc, string? schema, string? owner, string sql, string? ownerTarget = null,
                           string? tablespace = null, string? accessMethod = null, string prefix = "")
        {
            var sb = new StringBuilder();
            if (tablespace is not null && tablespace != _tablespace)
            {
                sb.Append("SET default_tablespace = ").Append(tablespace.Length == 0 ? "''" : PgIdentifier.Quote(tablespace)).Append(";\n\n");
                _tablespace = tablespace;
            }
            if (accessMethod is not null && accessMethod != _accessMethod)
            {
                sb.Append("SET default_table_access_method = ").Append(PgIdentifier.Quote(accessMethod)).Append(";\n\n");
                _accessMethod = accessMethod;
            }
            sb.Append(Header(prefix + "Name: ", tag, desc, schema, owner));
            sb.Append(sql).Append("\n\n");
            if (ownerTarget is not null && owner is not null && !_o.Scope.NoOwner)
                sb.Append("ALTER ").Append(ownerTarget).Append(" OWNER TO ").Append(PgIdentifier.Quote(owner)).Append(";\n\n");
            Write(sb.ToString());
        }

        /// <summary>The comment before an entry, as pg_dump writes it (without owners when they are not restored).</summary>
        private string Header(string prefix, string tag, string desc, string? schema, string? owner) =>
            "--\n-- " + prefix + SqlText.CommentLine(tag) + "; Type: " + desc + "; Schema: " + SqlText.CommentLine(schema ?? "-") +
            "; Owner: " + SqlText.CommentLine(_o.Scope.NoOwner ? "-" : owner ?? "-") + "\n--\n\n";

        private string TableDataHeader(TableObj t) => Header("Data for Name: ", t.Name, "TABLE DATA", t.Namespace!.Name, t.Owner);

        /// <summary>COMMENT ON and SECURITY LABEL for an object (or one of its columns), right after it.</summary>
        private void Describe(string type, string name, uint classOid, uint oid, int sub, string? schema, string? owner, string? initdbComment = null)
        {
            if (!Schema && type != "LARGE OBJECT") return;
            _c.Comments.TryGetValue((classOid, oid, sub), out var comment);
            if (initdbComment is not null)
            {
                if (comment is null) comment = "";
                else if (comment == initdbComment) comment = null;
            }
            // The entry's tag names the object without its schema, as pg_dump's does.
            var prefix = schema is null ? null : PgIdentifier.Quote(schema) + ".";
            var tag = type + " " + (prefix is not null && name.StartsWith(prefix, StringComparison.Ordinal) ? name.Substring(prefix.Length) : name);
            if (comment is not null)
                Entry(tag, "COMMENT", schema, owner, "COMMENT ON " + type + " " + name + " IS " + SqlText.Literal(comment) + ";");
            if (_c.SecurityLabels.TryGetValue((classOid, oid, sub), out var labels))
                foreach (var (provider, label) in labels)
                    Entry(tag, "SECURITY LABEL", schema, owner,
                        "SECURITY LABEL FOR " + PgIdentifier.Quote(provider) + " ON " + type + " " + name + " IS " + SqlText.Literal(label) + ";");
        }

        /// <summary>An ACL entry, written in the ACL pass after every other object.</summary>
        private void Acl(string tag, string type, string name, string? column, Acl? acl, string? schema, string? owner)
        {
            if (acl is null || _o.Scope.NoPrivileges || !Schema && type != "LARGE OBJECT") return;
            var sql = AclCommands.Build(type, name, column, acl, owner);
            if (sql.Length == 0) return;
            _acls.Append(Header("Name: ", tag, "ACL", schema, owner)).Append(sql).Append("\n\n");
        }

        private void WriteObject(DumpObject obj)
        {
            switch (obj)
            {
                case NamespaceObj n: WriteNamespace(n); break;
                case ExtensionObj e: WriteExtension(e); break;
                case TypeObj t: WriteType(t); break;
                case FuncObj f: WriteFunction(f); break;
                case OperatorObj o: WriteOperator(o); break;
                case CollationObj c: WriteSimple(c, "COLLATION", PgIdentifier.Qualify(c.Namespace!.Name, c.Name), c.Definition, c.Owner); break;
                case CastObj c: WriteCast(c); break;
                case TableObj t: WriteTable(t); break;
                case AttachObj<TableObj> a: WriteTableAttach(a); break;
                case AttrDefObj d: WriteDefault(d); break;
                case IndexObj i: WriteIndex(i); break;
                case AttachObj<IndexObj> a: WriteIndexAttach(a); break;
                case StatsExtObj s: WriteStatistics(s); break;
                case ConstraintObj c: WriteConstraint(c); break;
                case RuleObj r: WriteRule(r); break;
                case TriggerObj t: WriteTrigger(t); break;
                case PolicyObj p: WritePolicy(p); break;
                case PublicationObj p: WriteSimple(p, "PUBLICATION", PgIdentifier.Quote(p.Name), p.Definition, p.Owner, withSchema: false); break;
                case PublicationRelObj r: WritePublicationRel(r); break;
                case PublicationSchemaObj s: WritePublicationSchema(s); break;
                case DefaultAclObj d: WriteDefaultAcl(d); break;
                case EventTriggerObj:
                case TableDataObj { Kind: ObjKind.RefreshMatView }:
                    _postAcl.Add(obj);
                    break;
                case TableDataObj { Kind: ObjKind.SequenceSet } s: WriteSequenceSet(s); break;
                case LargeObjectsObj { Kind: ObjKind.LargeObject } l: WriteLargeObjects(l); break;
                case LargeObjectsObj { Kind: ObjKind.LargeObjectData } l: WriteLargeObjectData(l); break;
            }
        }

        private void WriteSimple(DumpObject o, string type, string qualified, string definition, string owner, bool withSchema = true)
        {
            if (!Schema) return;
            var schema = withSchema ? o.Namespace?.Name : null;
            Entry(o.Name, type, schema, owner, definition.TrimEnd('\n'), type + " " + qualified);
            Describe(type, qualified, o.ClassOid, o.Oid, 0, schema, owner);
        }

        private void WriteNamespace(NamespaceObj n)
        {
            if (!Schema) return;
            var q = PgIdentifier.Quote(n.Name);
            if (n.DumpDefinition)
                Entry(n.Name, "SCHEMA", null, n.Owner, n.Create ? "CREATE SCHEMA " + q + ";" : "-- *not* creating schema, since initdb creates it", "SCHEMA " + q);
            Describe("SCHEMA", q, n.ClassOid, n.Oid, 0, null, n.Owner, n.Create ? null : "standard public schema");
            Acl("SCHEMA " + q, "SCHEMA", q, null, n.Acl, null, n.Owner);
        }

        private void WriteExtension(ExtensionObj e)
        {
            if (!Schema) return;
            var q = PgIdentifier.Quote(e.Name);
            Entry(e.Name, "EXTENSION", null, null, $"CREATE EXTENSION IF NOT EXISTS {q} WITH SCHEMA {PgIdentifier.Quote(e.SchemaName)};");
            Describe("EXTENSION", q, e.ClassOid, e.Oid, 0, null, "");
        }

        private void WriteType(TypeObj t)
        {
            if (!Schema) return;
            var q = t.Qualified;
            var sb = new StringBuilder();
            string desc = "TYPE";
            switch (t.TypType)
            {
                case 'e':
                    sb.Append("CREATE TYPE ").Append(q).Append(" AS ENUM (");
                    for (int i = 0; i < t.Labels.Count; i++) sb.Append(i > 0 ? "," : "").Append("\n    ").Append(SqlText.Literal(t.Labels[i]));
                    sb.Append("\n);");
                    break;
                case 'c':
                    sb.Append("CREATE TYPE ").Append(q).Append(" AS (");
                    int n = 0;
                    foreach (var a in t.Attributes.Where(a => !a.Dropped))
                    {
                        sb.Append(n++ > 0 ? "," : "").Append("\n\t").Append(PgIdentifier.Quote(a.Name)).Append(' ').Append(a.Type);
                        if (a.Collation is not null) sb.Append(" COLLATE ").Append(a.Collation);
                    }
                    sb.Append("\n);");
                    break;
                case 'd':
                    desc = "DOMAIN";
                    sb.Append("CREATE DOMAIN ").Append(q).Append(" AS ").Append(t.BaseType);
                    if (t.Collation is not null) sb.Append(" COLLATE ").Append(t.Collation);
                    if (t.NotNull)
                    {
                        var nn = t.DomainNotNull;
                        if (nn is null || nn.Name == t.Name + "_not_null") { if (nn is null || !nn.Separate) sb.Append(" NOT NULL"); }
                        else if (!nn.Separate) sb.Append(" CONSTRAINT ").Append(PgIdentifier.Quote(nn.Name)).Append(' ').Append(nn.Definition);
                    }
                    if (t.Default is not null) sb.Append(" DEFAULT ").Append(t.DefaultIsLiteral ? SqlText.Literal(t.Default) : t.Default);
                    foreach (var c in t.DomainChecks.Where(c => !c.Separate))
                        sb.Append("\n\tCONSTRAINT ").Append(PgIdentifier.Quote(c.Name)).Append(' ').Append(c.Definition);
                    sb.Append(';');
                    break;
                case 'r':
                    sb.Append("CREATE TYPE ").Append(q).Append(" AS RANGE (\n    subtype = ").Append(t.RangeSubtype);
                    if (t.RangeMultirange is not null) sb.Append(",\n    multirange_type_name = ").Append(t.RangeMultirange);
                    if (t.RangeOpclass is not null) sb.Append(",\n    subtype_opclass = ").Append(t.RangeOpclass);
                    if (t.Collation is not null) sb.Append(",\n    collation = ").Append(t.Collation);
                    if (t.RangeSubdiff is not null) sb.Append(",\n    subtype_diff = ").Append(t.RangeSubdiff);
                    sb.Append("\n);");
                    break;
            }
            var schema = t.Namespace!.Name;
            Entry(t.Name, desc, schema, t.Owner, sb.ToString(), desc + " " + q);
            Describe(desc, q, t.ClassOid, t.Oid, 0, schema, t.Owner);
            Acl("TYPE " + PgIdentifier.Quote(t.Name), "TYPE", q, null, t.Acl, schema, t.Owner);
            foreach (var a in t.Attributes.Where(a => !a.Dropped))
                Describe("COLUMN", q + "." + PgIdentifier.Quote(a.Name), _c.ClassOid("pg_class"), t.RelId, a.Number, schema, t.Owner);
            foreach (var c in t.DomainChecks.Concat(t.DomainNotNull is null ? Enumerable.Empty<ConstraintObj>() : new[] { t.DomainNotNull }).Where(c => !c.Separate))
                Describe("CONSTRAINT " + PgIdentifier.Quote(c.Name) + " ON DOMAIN", q, c.ClassOid, c.Oid, 0, schema, t.Owner);
        }

        private void WriteFunction(FuncObj f)
        {
            if (!Schema) return;
            var schema = f.Namespace!.Name;
            var tag = f.Name + "(" + (f.Kind == ObjKind.Aggregate && f.ArgTypes.Length == 0 ? "*" : f.ArgTypes) + ")";
            Entry(tag, f.Keyword, schema, f.Owner, f.Definition.TrimEnd('\n'), f.Keyword + " " + f.Signature);
            Describe(f.Keyword, f.Signature, f.ClassOid, f.Oid, 0, schema, f.Owner);
            var grantName = PgIdentifier.Qualify(schema, f.Name) + "(" + f.ArgTypes + ")";
            var aclType = f.ProKind == 'p' ? "PROCEDURE" : "FUNCTION";
            Acl(aclType + " " + f.Name + "(" + f.IdentityArgs + ")", aclType, grantName, null, f.Acl, schema, f.Owner);
        }

        private void WriteOperator(OperatorObj o)
        {
            if (!Schema) return;
            var schema = o.Namespace!.Name;
            Entry(o.Name, "OPERATOR", schema, o.Owner, o.Definition.TrimEnd('\n'), "OPERATOR " + o.Signature);
            Describe("OPERATOR", o.Signature, o.ClassOid, o.Oid, 0, schema, o.Owner);
        }

        private void WriteCast(CastObj c)
        {
            if (!Schema) return;
            var what = $"({c.Source} AS {c.Target})";
            Entry("CAST " + what, "CAST", null, null, c.Definition.TrimEnd('\n'));
            Describe("CAST", what, c.ClassOid, c.Oid, 0, null, "");
        }

        // ------------------------------------------------------------------------------------------------------------
        // Tables, views, sequences
        // ------------------------------------------------------------------------------------------------------------

        private void WriteTable(TableObj t)
        {
            if (!Schema) return;
            var q = t.Qualified;
            var schema = t.Namespace!.Name;
            if (t.IsSequence)
            {
                WriteSequence(t);
                return;
            }
            string desc = t.RelKind switch { 'v' => "VIEW", 'm' => "MATERIALIZED VIEW", _ => "TABLE" };
            Entry(t.Name, desc, schema, t.Owner, TableDefinition(t).TrimEnd('\n'), desc + " " + q,
                  tablespace: t.Tablespace, accessMethod: t.AccessMethod);
            DescribeTable(t, desc);
            Acl("TABLE " + PgIdentifier.Quote(t.Name), "TABLE", q, null, t.Acl, schema, t.Owner);
            foreach (var (column, acl) in t.ColumnAcls)
                Acl("COLUMN " + PgIdentifier.Quote(t.Name) + "." + PgIdentifier.Quote(column), "TABLE", q, PgIdentifier.Quote(column), acl, schema, t.Owner);
        }

        private void DescribeTable(TableObj t, string desc)
        {
            var q = t.Qualified;
            var schema = t.Namespace!.Name;
            Describe(desc, q, t.ClassOid, t.Oid, 0, schema, t.Owner);
            foreach (var c in t.Columns.Where(c => !c.Dropped))
                Describe("COLUMN", q + "." + PgIdentifier.Quote(c.Name), t.ClassOid, t.Oid, c.Number, schema, t.Owner);
            foreach (var c in t.Checks.Where(c => !c.Separate && c.IsLocal))
                Describe("CONSTRAINT " + PgIdentifier.Quote(c.Name) + " ON", q, c.ClassOid, c.Oid, 0, schema, t.Owner);
        }

        private string TableDefinition(TableObj t)
        {
            var q = t.Qualified;
            var sb = new StringBuilder();
            if (t.IsView)
            {
                sb.Append("CREATE VIEW ").Append(q);
                if (!t.DummyView && t.RelOptions is { Length: > 0 }) sb.Append(" WITH (").Append(SqlText.RelOptions(t.RelOptions)).Append(')');
                sb.Append(" AS\n").Append(t.DummyView ? DummyViewAs(t) : t.ViewDefinition);
                if (t.CheckOption is not null && !t.DummyView) sb.Append("\n  WITH ").Append(t.CheckOption).Append(" CHECK OPTION");
                return sb.Append(";\n").ToString();
            }
            string type = t.IsMatView ? "MATERIALIZED VIEW" : "TABLE";
            sb.Append("CREATE ").Append(t.Persistence == 'u' && t.RelKind != 'p' ? "UNLOGGED " : "").Append(type).Append(' ').Append(q);
            if (t.OfType is not null) sb.Append(" OF ").Append(t.OfType);
            var extra = new StringBuilder();
            if (!t.IsMatView)
            {
                int n = 0;
                foreach (var c in t.Columns)
                {
                    if (CatalogReader.PrintColumn(t, c))
                    {
                        bool printDefault = c.Default is { Dump: true, Separate: false };
                        bool printNotNull = c.NotNullName is not null && (c.NotNullIsLocal || t.IsPartition);
                        if (t.OfType is not null && !printDefault && !printNotNull) continue;
                        sb.Append(n++ == 0 ? " (" : ",").Append("\n    ").Append(PgIdentifier.Quote(c.Name));
                        if (t.OfType is null) sb.Append(' ').Append(c.Type);
                        if (printDefault)
                        {
                            if (c.Generated == 's') sb.Append(" GENERATED ALWAYS AS (").Append(c.Default!.Expression).Append(") STORED");
                            else if (c.Generated == 'v') sb.Append(" GENERATED ALWAYS AS (").Append(c.Default!.Expression).Append(')');
                            else sb.Append(" DEFAULT ").Append(c.Default!.Expression);
                        }
                        if (printNotNull)
                        {
                            sb.Append(c.NotNullName!.Length == 0 ? " NOT NULL" : " CONSTRAINT " + PgIdentifier.Quote(c.NotNullName) + " NOT NULL");
                            if (c.NotNullNoInherit) sb.Append(" NO INHERIT");
                        }
                        if (c.Collation is not null) sb.Append(" COLLATE ").Append(c.Collation);
                    }
                    else if (!c.Dropped && c.NotNullName is not null && c.NotNullIsLocal)
                    {
                        // An inherited column with a NOT NULL of its own.
                        if (_c.Version >= 180000)
                            sb.Append(n++ == 0 ? " (" : ",").Append("\n    ")
                              .Append(c.NotNullName.Length == 0 ? "NOT NULL " : "CONSTRAINT " + PgIdentifier.Quote(c.NotNullName) + " NOT NULL ")
                              .Append(PgIdentifier.Quote(c.Name));
                        else
                            extra.Append("ALTER TABLE ONLY ").Append(q).Append(" ALTER COLUMN ").Append(PgIdentifier.Quote(c.Name)).Append(" SET NOT NULL;\n");
                    }
                }
                foreach (var check in t.Checks)
                {
                    if (check.Separate || !check.IsLocal && !t.IsPartition) continue;
                    sb.Append(n++ == 0 ? " (\n    " : ",\n    ").Append("CONSTRAINT ").Append(PgIdentifier.Quote(check.Name)).Append(' ').Append(check.Definition);
                }
                if (n > 0) sb.Append("\n)");
                else if (t.OfType is null) sb.Append(" (\n)");
                if (t.Parents.Count > 0 && !t.IsPartition)
                    sb.Append("\nINHERITS (").Append(string.Join(", ", t.Parents.Select(p => p.Qualified))).Append(')');
                if (t.RelKind == 'p') sb.Append("\nPARTITION BY ").Append(t.PartKeyDef);
            }
            bool options = t.RelOptions is { Length: > 0 }, toast = t.ToastOptions is { Length: > 0 };
            if (options || toast)
            {
                sb.Append("\nWITH (");
                if (options) sb.Append(SqlText.RelOptions(t.RelOptions!));
                if (toast) sb.Append(options ? ", " : "").Append(SqlText.RelOptions(t.ToastOptions!, "toast."));
                sb.Append(')');
            }
            if (t.IsMatView) sb.Append(" AS\n").Append(t.ViewDefinition).Append("\n  WITH NO DATA;\n");
            else sb.Append(";\n");
            sb.Append(extra);
            foreach (var c in t.Columns.Where(c => !c.Dropped))
            {
                var col = PgIdentifier.Quote(c.Name);
                if (c.StatTarget is int target)
                    sb.Append("ALTER TABLE ONLY ").Append(q).Append(" ALTER COLUMN ").Append(col).Append(" SET STATISTICS ").Append(target.ToString(CultureInfo.InvariantCulture)).Append(";\n");
                if (c.Storage != c.TypeStorage && c.Storage is 'p' or 'e' or 'x' or 'm')
                    sb.Append("ALTER TABLE ONLY ").Append(q).Append(" ALTER COLUMN ").Append(col).Append(" SET STORAGE ")
                      .Append(c.Storage switch { 'p' => "PLAIN", 'e' => "EXTERNAL", 'x' => "EXTENDED", _ => "MAIN" }).Append(";\n");
                if (c.Compression is 'p' or 'l')
                    sb.Append("ALTER TABLE ONLY ").Append(q).Append(" ALTER COLUMN ").Append(col).Append(" SET COMPRESSION ").Append(c.Compression == 'p' ? "pglz" : "lz4").Append(";\n");
                if (c.Options is not null)
                    sb.Append("ALTER TABLE ONLY ").Append(q).Append(" ALTER COLUMN ").Append(col).Append(" SET (").Append(c.Options).Append(");\n");
            }
            if (t.RelKind is 'r' or 'p' or 'm' && t.ReplIdent is 'n' or 'f')
                sb.Append("\nALTER TABLE ONLY ").Append(q).Append(" REPLICA IDENTITY ").Append(t.ReplIdent == 'n' ? "NOTHING" : "FULL").Append(";\n");
            if (t.ForceRowSecurity) sb.Append("\nALTER TABLE ONLY ").Append(q).Append(" FORCE ROW LEVEL SECURITY;\n");
            return sb.ToString();
        }

        private static string DummyViewAs(TableObj t)
        {
            var sb = new StringBuilder("SELECT");
            int n = 0;
            foreach (var c in t.Columns.Where(c => !c.Dropped))
            {
                sb.Append(n++ > 0 ? "," : "").Append("\n    NULL::").Append(c.Type);
                if (c.Collation is not null) sb.Append(" COLLATE ").Append(c.Collation);
                sb.Append(" AS ").Append(PgIdentifier.Quote(c.Name));
            }
            return sb.ToString();
        }

        private void WriteSequence(TableObj s)
        {
            var seq = s.Sequence!;
            var q = s.Qualified;
            var schema = s.Namespace!.Name;
            bool ascending = seq.Increment >= 0;
            long defaultMin, defaultMax;
            switch (seq.Type)
            {
                case "smallint": defaultMin = ascending ? 1 : short.MinValue; defaultMax = ascending ? short.MaxValue : -1; break;
                case "integer": defaultMin = ascending ? 1 : int.MinValue; defaultMax = ascending ? int.MaxValue : -1; break;
                default: defaultMin = ascending ? 1 : long.MinValue; defaultMax = ascending ? long.MaxValue : -1; break;
            }
            var sb = new StringBuilder();
            // The owning table, when it is written too (a serial's table may be left out of the backup).
            var owner = s.OwningTable != 0 && _c.Table(s.OwningTable) is { Dump: true } t ? t : null;
            if (s.IsIdentitySequence && owner is not null)
            {
                var column = owner.Columns.First(c => c.Number == s.OwningColumn);
                sb.Append("ALTER TABLE ").Append(owner.Qualified).Append(" ALTER COLUMN ").Append(PgIdentifier.Quote(column.Name))
                  .Append(" ADD GENERATED ").Append(column.Identity == 'a' ? "ALWAYS" : "BY DEFAULT").Append(" AS IDENTITY (\n    SEQUENCE NAME ").Append(q).Append('\n');
                if (s.Persistence != owner.Persistence) sb.Append("    ").Append(s.Persistence == 'u' ? "UNLOGGED" : "LOGGED").Append('\n');
            }
            else
            {
                sb.Append("CREATE ").Append(s.Persistence == 'u' ? "UNLOGGED " : "").Append("SEQUENCE ").Append(q).Append('\n');
                if (seq.Type != "bigint") sb.Append("    AS ").Append(seq.Type).Append('\n');
            }
            sb.Append("    START WITH ").Append(seq.Start.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("    INCREMENT BY ").Append(seq.Increment.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append(seq.Min != defaultMin ? "    MINVALUE " + seq.Min.ToString(CultureInfo.InvariantCulture) : "    NO MINVALUE").Append('\n');
            sb.Append(seq.Max != defaultMax ? "    MAXVALUE " + seq.Max.ToString(CultureInfo.InvariantCulture) : "    NO MAXVALUE").Append('\n');
            sb.Append("    CACHE ").Append(seq.Cache.ToString(CultureInfo.InvariantCulture)).Append(seq.Cycle ? "\n    CYCLE" : "");
            sb.Append(s.IsIdentitySequence && owner is not null ? "\n);" : ";");
            // An identity sequence has no DROP of its own, so pg_dump writes no owner for it.
            Entry(s.Name, "SEQUENCE", schema, s.Owner, sb.ToString(), s.IsIdentitySequence ? null : "SEQUENCE " + q);
            if (owner is not null && !s.IsIdentitySequence)
            {
                var column = owner.Columns.FirstOrDefault(c => c.Number == s.OwningColumn);
                if (column is not null)
                    Entry(s.Name, "SEQUENCE OWNED BY", schema, s.Owner, $"ALTER SEQUENCE {q} OWNED BY {owner.Qualified}.{PgIdentifier.Quote(column.Name)};");
            }
            Describe("SEQUENCE", q, s.ClassOid, s.Oid, 0, schema, s.Owner);
            Acl("SEQUENCE " + PgIdentifier.Quote(s.Name), "SEQUENCE", q, null, s.Acl, schema, s.Owner);
        }

        private void WriteTableAttach(AttachObj<TableObj> a)
        {
            if (!Schema) return;
            Entry(a.Partition.Name, "TABLE ATTACH", a.Partition.Namespace!.Name, a.Partition.Owner,
                $"ALTER TABLE ONLY {a.Parent.Qualified} ATTACH PARTITION {a.Partition.Qualified} {a.Partition.PartBound};");
        }

        private void WriteDefault(AttrDefObj d)
        {
            if (!Schema || !d.Separate) return;
            var t = d.Table;
            var column = t.Columns.First(c => c.Number == d.Column).Name;
            Entry(t.Name + " " + column, "DEFAULT", t.Namespace!.Name, t.Owner,
                $"ALTER TABLE ONLY {t.Qualified} ALTER COLUMN {PgIdentifier.Quote(column)} SET DEFAULT {d.Expression};");
        }

        private void WriteIndex(IndexObj i)
        {
            if (!Schema) return;
            var t = i.Table;
            if (i.Constraint is not null)
            {
                Describe("INDEX", PgIdentifier.Qualify(t.Namespace!.Name, i.Name), i.ClassOid, i.Oid, 0, t.Namespace.Name, t.Owner);
                return;
            }
            var sb = new StringBuilder(i.Definition).Append(";\n");
            AppendIndexExtras(sb, i);
            foreach (var (column, value) in i.StatTargets)
                sb.Append("ALTER INDEX ").Append(PgIdentifier.Qualify(t.Namespace!.Name, i.Name)).Append(" ALTER COLUMN ").Append(column).Append(" SET STATISTICS ").Append(value).Append(";\n");
            Entry(i.Name, "INDEX", t.Namespace!.Name, t.Owner, sb.ToString().TrimEnd('\n'), tablespace: i.Tablespace);
            Describe("INDEX", PgIdentifier.Qualify(t.Namespace!.Name, i.Name), i.ClassOid, i.Oid, 0, t.Namespace.Name, t.Owner);
        }

        private static void AppendIndexExtras(StringBuilder sb, IndexObj i)
        {
            if (i.Clustered) sb.Append("\nALTER TABLE ").Append(i.Table.Qualified).Append(" CLUSTER ON ").Append(PgIdentifier.Quote(i.Name)).Append(";\n");
            if (i.ReplIdent) sb.Append("\nALTER TABLE ONLY ").Append(i.Table.Qualified).Append(" REPLICA IDENTITY USING INDEX ").Append(PgIdentifier.Quote(i.Name)).Append(";\n");
        }

        private void WriteIndexAttach(AttachObj<IndexObj> a)
        {
            if (!Schema) return;
            Entry(a.Partition.Name, "INDEX ATTACH", a.Partition.Namespace!.Name, a.Parent.Table.Owner,
                $"ALTER INDEX {PgIdentifier.Qualify(a.Parent.Namespace!.Name, a.Parent.Name)} ATTACH PARTITION {PgIdentifier.Qualify(a.Partition.Namespace!.Name, a.Partition.Name)};");
        }

        private void WriteStatistics(StatsExtObj s)
        {
            if (!Schema) return;
            var q = PgIdentifier.Qualify(s.Namespace!.Name, s.Name);
            var sql = s.Definition + ";";
            if (s.StatTarget is int target) sql += $"\nALTER STATISTICS {q} SET STATISTICS {target.ToString(CultureInfo.InvariantCulture)};";
            Entry(s.Name, "STATISTICS", s.Namespace.Name, s.Owner, sql, "STATISTICS " + q);
            Describe("STATISTICS", q, s.ClassOid, s.Oid, 0, s.Namespace.Name, s.Owner);
        }

        private void WriteConstraint(ConstraintObj c)
        {
            if (!Schema || !c.Separate) return;
            if (c.Domain is TypeObj d)
            {
                Entry(d.Name + " " + c.Name, c.ConType == 'c' ? "CHECK CONSTRAINT" : "CONSTRAINT", d.Namespace!.Name, d.Owner,
                    $"ALTER DOMAIN {d.Qualified}\n    ADD CONSTRAINT {PgIdentifier.Quote(c.Name)} {c.Definition};");
                Describe("CONSTRAINT " + PgIdentifier.Quote(c.Name) + " ON DOMAIN", d.Qualified, c.ClassOid, c.Oid, 0, d.Namespace.Name, d.Owner);
                return;
            }
            var t = c.Table!;
            var q = t.Qualified;
            var schema = t.Namespace!.Name;
            var tag = t.Name + " " + c.Name;
            var name = PgIdentifier.Quote(c.Name);
            switch (c.ConType)
            {
                case 'p': case 'u': case 'x':
                    var sb = new StringBuilder($"ALTER TABLE ONLY {q}\n    ADD CONSTRAINT {name} {c.Definition};\n");
                    AppendIndexExtras(sb, c.Index!);
                    Entry(tag, "CONSTRAINT", schema, t.Owner, sb.ToString().TrimEnd('\n'), tablespace: c.Index!.Tablespace);
                    break;
                case 'f':
                    Entry(tag, "FK CONSTRAINT", schema, t.Owner, $"ALTER TABLE {(t.RelKind == 'p' ? "" : "ONLY ")}{q}\n    ADD CONSTRAINT {name} {c.Definition};");
                    break;
                default:
                    if (!c.IsLocal) return;
                    Entry(tag, c.ConType == 'c' ? "CHECK CONSTRAINT" : "CONSTRAINT", schema, t.Owner, $"ALTER TABLE {q}\n    ADD CONSTRAINT {name} {c.Definition};");
                    break;
            }
            Describe("CONSTRAINT " + name + " ON", q, c.ClassOid, c.Oid, 0, schema, t.Owner);
        }

        private void WriteRule(RuleObj r)
        {
            if (!Schema || !r.Separate) return;
            var t = r.Table;
            var q = t.Qualified;
            var sb = new StringBuilder();
            if (r.IsViewSelect)
            {
                sb.Append("CREATE OR REPLACE VIEW ").Append(q);
                if (t.RelOptions is { Length: > 0 }) sb.Append(" WITH (").Append(SqlText.RelOptions(t.RelOptions)).Append(')');
                sb.Append(" AS\n").Append(t.ViewDefinition);
                if (t.CheckOption is not null) sb.Append("\n  WITH ").Append(t.CheckOption).Append(" CHECK OPTION");
                sb.Append(";\n");
            }
            else sb.Append(r.Definition).Append('\n');
            if (r.Enabled != 'O')
                sb.Append("ALTER TABLE ").Append(q).Append(' ').Append(r.Enabled switch { 'A' => "ENABLE ALWAYS", 'R' => "ENABLE REPLICA", _ => "DISABLE" })
                  .Append(" RULE ").Append(PgIdentifier.Quote(r.Name)).Append(";\n");
            Entry(t.Name + " " + r.Name, "RULE", t.Namespace!.Name, t.Owner, sb.ToString().TrimEnd('\n'));
            Describe("RULE " + PgIdentifier.Quote(r.Name) + " ON", q, r.ClassOid, r.Oid, 0, t.Namespace.Name, t.Owner);
        }

        private void WriteTrigger(TriggerObj tr)
        {
            if (!Schema) return;
            var t = tr.Table;
            var q = t.Qualified;
            var sb = new StringBuilder();
            string State(char e) => e switch { 'D' or 'f' => "DISABLE", 'A' => "ENABLE ALWAYS", 'R' => "ENABLE REPLICA", _ => "ENABLE" };
            if (tr.IsPartitionClone)
                sb.Append("ALTER TABLE ").Append(q).Append(' ').Append(State(tr.Enabled)).Append(" TRIGGER ").Append(PgIdentifier.Quote(tr.Name)).Append(';');
            else
            {
                sb.Append(tr.Definition).Append(";\n");
                if (tr.Enabled != 'O' && tr.Enabled != 't')
                    sb.Append("\nALTER TABLE ").Append(q).Append(' ').Append(State(tr.Enabled)).Append(" TRIGGER ").Append(PgIdentifier.Quote(tr.Name)).Append(";\n");
            }
            Entry(t.Name + " " + tr.Name, "TRIGGER", t.Namespace!.Name, t.Owner, sb.ToString().TrimEnd('\n'));
            Describe("TRIGGER " + PgIdentifier.Quote(tr.Name) + " ON", q, tr.ClassOid, tr.Oid, 0, t.Namespace.Name, t.Owner);
        }

        private void WritePolicy(PolicyObj p)
        {
            if (!Schema) return;
            var t = p.Table;
            var q = t.Qualified;
            if (p.PolicyName is null)
            {
                Entry(t.Name, "ROW SECURITY", t.Namespace!.Name, t.Owner, $"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY;");
                return;
            }
            var sb = new StringBuilder("CREATE POLICY ").Append(PgIdentifier.Quote(p.PolicyName)).Append(" ON ").Append(q);
            if (!p.Permissive) sb.Append(" AS RESTRICTIVE");
            sb.Append(p.Command switch { 'r' => " FOR SELECT", 'a' => " FOR INSERT", 'w' => " FOR UPDATE", 'd' => " FOR DELETE", _ => "" });
            if (p.Roles is not null) sb.Append(" TO ").Append(p.Roles);
            if (p.Using is not null) sb.Append(" USING (").Append(p.Using).Append(')');
            if (p.WithCheck is not null) sb.Append(" WITH CHECK (").Append(p.WithCheck).Append(')');
            sb.Append(';');
            Entry(t.Name + " " + p.PolicyName, "POLICY", t.Namespace!.Name, t.Owner, sb.ToString());
            Describe("POLICY " + PgIdentifier.Quote(p.PolicyName) + " ON", q, p.ClassOid, p.Oid, 0, t.Namespace.Name, t.Owner);
        }

        private void WritePublicationRel(PublicationRelObj r)
        {
            if (!Schema) return;
            var sb = new StringBuilder("ALTER PUBLICATION ").Append(PgIdentifier.Quote(r.Publication.Name)).Append(" ADD TABLE ONLY ").Append(r.Table.Qualified);
            if (r.Columns is not null) sb.Append(" (").Append(r.Columns).Append(')');
            if (r.Where is not null) sb.Append(" WHERE (").Append(r.Where).Append(')');
            Entry(r.Publication.Name + " " + r.Table.Name, "PUBLICATION TABLE", r.Table.Namespace!.Name, r.Publication.Owner, sb.Append(';').ToString());
        }

        private void WritePublicationSchema(PublicationSchemaObj s)
        {
            if (!Schema) return;
            Entry(s.Publication.Name + " " + s.Schema.Name, "PUBLICATION TABLES IN SCHEMA", s.Schema.Name, s.Publication.Owner,
                $"ALTER PUBLICATION {PgIdentifier.Quote(s.Publication.Name)} ADD TABLES IN SCHEMA {PgIdentifier.Quote(s.Schema.Name)};");
        }

        private void WriteDefaultAcl(DefaultAclObj d)
        {
            if (!Schema || _o.Scope.NoPrivileges || d.Acl is null) return;
            var prefix = "ALTER DEFAULT PRIVILEGES FOR ROLE " + PgIdentifier.Quote(d.Role) + " " + (d.Namespace is null ? "" : "IN SCHEMA " + PgIdentifier.Quote(d.Namespace.Name) + " ");
            var sql = AclCommands.Build(d.ObjectType, "", null, d.Acl, d.Role, prefix);
            if (sql.Length == 0) return;
            _acls.Append(Header("Name: ", "DEFAULT PRIVILEGES FOR " + d.ObjectType, "DEFAULT ACL", d.Namespace?.Name, d.Role)).Append(sql).Append("\n\n");
        }

        private void WritePostAcl(DumpObject obj)
        {
            if (obj is EventTriggerObj e)
            {
                if (!Schema) return;
                var q = PgIdentifier.Quote(e.Name);
                Entry(e.Name, "EVENT TRIGGER", null, e.Owner, e.Definition.TrimEnd('\n'), "EVENT TRIGGER " + q);
                Describe("EVENT TRIGGER", q, e.ClassOid, e.Oid, 0, null, e.Owner);
            }
            else if (obj is TableDataObj refresh && Data)
                Entry(refresh.Table.Name, "MATERIALIZED VIEW DATA", refresh.Table.Namespace!.Name, refresh.Table.Owner,
                    "REFRESH MATERIALIZED VIEW " + refresh.Table.Qualified + ";");
        }

        // ------------------------------------------------------------------------------------------------------------
        // Data
        // ------------------------------------------------------------------------------------------------------------

        private void WriteSequenceSet(TableDataObj s)
        {
            if (!Data) return;
            var (last, called) = _c.SequenceValue(s.Table);
            Entry(s.Table.Name, "SEQUENCE SET", s.Table.Namespace!.Name, s.Table.Owner,
                $"SELECT pg_catalog.setval({SqlText.Literal(s.Table.Qualified)}, {last.ToString(CultureInfo.InvariantCulture)}, {(called ? "true" : "false")});");
        }

        private void WriteLargeObjects(LargeObjectsObj l)
        {
            uint cls = _c.ClassOid("pg_largeobject");
            foreach (var lo in l.Objects)
            {
                var id = lo.Oid.ToString(CultureInfo.InvariantCulture);
                Entry(id, "BLOB", null, lo.Owner, $"SELECT pg_catalog.lo_create('{id}');", "LARGE OBJECT " + id);
                Describe("LARGE OBJECT", id, cls, lo.Oid, 0, null, lo.Owner);
                Acl("LARGE OBJECT " + id, "LARGE OBJECT", id, null, lo.Acl, null, lo.Owner);
            }
        }

        private void WriteLargeObjectData(LargeObjectsObj l)
        {
            if (!Data) return;
            Write(Header("Data for Name: ", "BLOBS", "BLOBS", null, null));
            foreach (var lo in l.Objects) _data.CopyLargeObject(lo.Oid, _out);
            Write("\n");
        }
    }
}
