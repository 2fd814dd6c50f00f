using System;
using System.Collections.Generic;

namespace PgBackup.Native
{
    /// <summary>
    /// The kinds of object the native dump knows, in the order of pg_dump's DumpableObjectType (pg_dump.h), which
    /// breaks ties when objects of one priority share a schema and a name.
    /// </summary>
    internal enum ObjKind
    {
        Namespace,
        Extension,
        Type,
        Function,
        Aggregate,
        Operator,
        Collation,
        Table,
        TableAttach,
        AttrDef,
        Index,
        IndexAttach,
        StatsExt,
        Rule,
        Trigger,
        Constraint,
        FkConstraint,
        Cast,
        TableData,
        SequenceSet,
        DummyType,
        DefaultAcl,
        LargeObject,
        LargeObjectData,
        PreDataBoundary,
        PostDataBoundary,
        EventTrigger,
        RefreshMatView,
        Policy,
        Publication,
        PublicationRel,
        PublicationSchema,
        /// <summary>A catalog object the dump does not write but whose dependencies order others (a table's row type, an array type, a constraint's index).</summary>
        Shadow,
    }

    internal enum Section { None, PreData, Data, PostData }

    /// <summary>
    /// One object of the dump, as pg_dump's DumpableObject: an identity in the catalog, a sort key (priority,
    /// schema, name), the objects it must follow, and whether it is written.
    /// </summary>
    internal class DumpObject
    {
        public DumpObject(ObjKind kind, uint classOid, uint oid, string name)
        {
            Kind = kind;
            ClassOid = classOid;
            Oid = oid;
            Name = name;
        }

        public int DumpId { get; set; }
        public ObjKind Kind { get; }
        public uint ClassOid { get; }
        public uint Oid { get; }
        public string Name { get; }
        public NamespaceObj? Namespace { get; set; }
        /// <summary>Dump ids of the objects this one must come after.</summary>
        public List<int> Deps { get; } = new List<int>();
        /// <summary>Written at all (shadows and objects out of the backup's scope are only sorted).</summary>
        public bool Dump { get; set; }

        public void AddDep(DumpObject other)
        {
            if (!Deps.Contains(other.DumpId)) Deps.Add(other.DumpId);
        }

        public void RemoveDep(DumpObject other) => Deps.Remove(other.DumpId);

        /// <summary>Further sort keys for objects that share kind, schema and name (pg_dump's DOTypeNameCompare).</summary>
        public virtual int CompareSameName(DumpObject other) => 0;

        public override string ToString() => $"{Kind} {(Namespace is null ? "" : Namespace.Name + ".")}{Name}";
    }

    /// <summary>An ACL as the catalog holds it, and the one it is compared with (acldefault, or initial privileges).</summary>
    internal sealed class Acl
    {
        public Acl(string[]? items, string[]? baseItems)
        {
            Items = items;
            BaseItems = baseItems ?? Array.Empty<string>();
        }

        /// <summary>Null: the default privileges (nothing to write).</summary>
        public string[]? Items { get; }
        public string[] BaseItems { get; }
    }

    internal sealed class NamespaceObj : DumpObject
    {
        public NamespaceObj(uint classOid, uint oid, string name) : base(ObjKind.Namespace, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        public Acl? Acl { get; set; }
        /// <summary>CREATE SCHEMA (false for public, which initdb creates).</summary>
        public bool Create { get; set; } = true;
        /// <summary>Its definition (and owner) is written; false for public owned by pg_database_owner.</summary>
        public bool DumpDefinition { get; set; } = true;
        /// <summary>The objects in it are dumped.</summary>
        public bool DumpContains { get; set; }
    }

    internal sealed class ExtensionObj : DumpObject
    {
        public ExtensionObj(uint classOid, uint oid, string name) : base(ObjKind.Extension, classOid, oid, name) { }
        public string SchemaName { get; set; } = "";
    }

    internal sealed class TypeObj : DumpObject
    {
        public TypeObj(uint classOid, uint oid, string name) : base(ObjKind.Type, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        /// <summary>typtype: e(num), c(omposite), d(omain), r(ange).</summary>
        public char TypType { get; set; }
        public uint RelId { get; set; }
        public Acl? Acl { get; set; }
        public string Qualified => PgIdentifier.Qualify(Namespace!.Name, Name);
        // Domain
        public string? BaseType { get; set; }
        public string? Collation { get; set; }
        public bool NotNull { get; set; }
        public string? Default { get; set; }
        public bool DefaultIsLiteral { get; set; }
        public List<ConstraintObj> DomainChecks { get; } = new List<ConstraintObj>();
        public ConstraintObj? DomainNotNull { get; set; }
        // Enum
        public List<string> Labels { get; } = new List<string>();
        // Composite
        public List<ColumnInfo> Attributes { get; } = new List<ColumnInfo>();
        // Range
        public string? RangeSubtype { get; set; }
        public string? RangeMultirange { get; set; }
        public string? RangeOpclass { get; set; }
        public string? RangeCanonical { get; set; }
        public string? RangeSubdiff { get; set; }
    }

    /// <summary>A function, procedure or aggregate.</summary>
    internal sealed class FuncObj : DumpObject
    {
        public FuncObj(ObjKind kind, uint classOid, uint oid, string name) : base(kind, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        /// <summary>prokind: f, p, w, a.</summary>
        public char ProKind { get; set; }
        public string IdentityArgs { get; set; } = "";
        /// <summary>The input argument types, as GRANT names a function.</summary>
        public string ArgTypes { get; set; } = "";
        public string[] SortArgTypes { get; set; } = Array.Empty<string>();
        public Acl? Acl { get; set; }
        /// <summary>Written in post-data (it depends on something there, such as a primary key).</summary>
        public bool Postponed { get; set; }
        public string Definition { get; set; } = "";

        public string Keyword => Kind == ObjKind.Aggregate ? "AGGREGATE" : ProKind == 'p' ? "PROCEDURE" : "FUNCTION";
        /// <summary>The name and identity arguments (aggregates without arguments: (*)).</summary>
        public string Signature => PgIdentifier.Qualify(Namespace!.Name, Name) + "(" + (Kind == ObjKind.Aggregate && IdentityArgs.Length == 0 ? "*" : IdentityArgs) + ")";

        public override int CompareSameName(DumpObject other)
        {
            var o = (FuncObj)other;
            int c = SortArgTypes.Length - o.SortArgTypes.Length;
            for (int i = 0; c == 0 && i < SortArgTypes.Length; i++) c = string.CompareOrdinal(SortArgTypes[i], o.SortArgTypes[i]);
            return c;
        }
    }

    internal sealed class OperatorObj : DumpObject
    {
        public OperatorObj(uint classOid, uint oid, string name) : base(ObjKind.Operator, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        public char OprKind { get; set; }
        public string LeftType { get; set; } = "";
        public string RightType { get; set; } = "";
        public string Definition { get; set; } = "";
        public string Signature => $"{PgIdentifier.Quote(Namespace!.Name)}.{Name} ({(LeftType.Length == 0 ? "NONE" : LeftType)}, {(RightType.Length == 0 ? "NONE" : RightType)})";

        public override int CompareSameName(DumpObject other)
        {
            var o = (OperatorObj)other;
            int c = o.OprKind - OprKind;
            if (c == 0) c = string.CompareOrdinal(LeftType, o.LeftType);
            if (c == 0) c = string.CompareOrdinal(RightType, o.RightType);
            return c;
        }
    }

    internal sealed class CollationObj : DumpObject
    {
        public CollationObj(uint classOid, uint oid, string name) : base(ObjKind.Collation, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        public string Definition { get; set; } = "";
    }

    internal sealed class CastObj : DumpObject
    {
        public CastObj(uint classOid, uint oid, string name) : base(ObjKind.Cast, classOid, oid, name) { }
        public string Source { get; set; } = "";
        public string Target { get; set; } = "";
        public string Definition { get; set; } = "";
    }

    /// <summary>A column of a table (or an attribute of a composite type).</summary>
    internal sealed class ColumnInfo
    {
        public int Number { get; set; }
        public string Name { get; set; } = "";
        public string Type { get; set; } = "";
        public bool Dropped { get; set; }
        public bool IsLocal { get; set; } = true;
        public string? Collation { get; set; }
        public int? StatTarget { get; set; }
        public char Storage { get; set; }
        public char TypeStorage { get; set; }
        public char Compression { get; set; }
        public string? Options { get; set; }
        /// <summary>a (always) or d (by default) for identity columns.</summary>
        public char Identity { get; set; }
        /// <summary>s (stored) or v (virtual) for generated columns.</summary>
        public char Generated { get; set; }
        /// <summary>null: no NOT NULL; "": NOT NULL without a name; otherwise its constraint's name (18).</summary>
        public string? NotNullName { get; set; }
        public bool NotNullNoInherit { get; set; }
        public bool NotNullIsLocal { get; set; }
        public bool NotNullInvalid { get; set; }
        public AttrDefObj? Default { get; set; }
    }

    internal sealed class TableObj : DumpObject
    {
        public TableObj(uint classOid, uint oid, string name) : base(ObjKind.Table, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        /// <summary>relkind: r, p, v, m, S (sequence), f.</summary>
        public char RelKind { get; set; }
        public char Persistence { get; set; }
        public bool IsPartition { get; set; }
        /// <summary>A partitioned table hashed on an enum (pg_dump's unsafe_partitions): hashes of enum values differ after a restore.</summary>
        public bool UnsafePartitions { get; set; }

        /// <summary>
        /// The table this table's data is loaded through (pg_dump's forcePartitionRootLoad and getRootTableInfo): the
        /// root of its partition tree when any partitioned table above it hashes on an enum (the restored server puts
        /// each row into the partition its own hash picks); otherwise itself.
        /// </summary>
        public TableObj DataTarget
        {
            get
            {
                if (!IsPartition || Parents.Count != 1) return this;
                var parent = Parents[0];
                bool unsafeKey = parent.UnsafePartitions;
                for (int depth = 0; depth < 1000 && parent.IsPartition && parent.Parents.Count == 1; depth++)
                {
                    parent = parent.Parents[0];
                    unsafeKey |= parent.UnsafePartitions;
                }
                return unsafeKey ? parent : this;
            }
        }
        public bool RowSecurity { get; set; }
        public bool ForceRowSecurity { get; set; }
        /// <summary>Row-level security applies to the dumping role here (row_security_active): its rows cannot all be read.</summary>
        public bool RowSecurityActive { get; set; }
        public char ReplIdent { get; set; }
        public bool HasIndex { get; set; }
        public bool HasTriggers { get; set; }
        public bool IsPopulated { get; set; }
        public long Pages { get; set; }
        public string? OfType { get; set; }
        /// <summary>"" for the default tablespace (for relations that have one).</summary>
        public string? Tablespace { get; set; }
        public string? AccessMethod { get; set; }
        public string[]? RelOptions { get; set; }
        public string[]? ToastOptions { get; set; }
        public string? CheckOption { get; set; }
        public string? PartKeyDef { get; set; }
        public string? PartBound { get; set; }
        public Acl? Acl { get; set; }
        public List<TableObj> Parents { get; } = new List<TableObj>();
        public List<ColumnInfo> Columns { get; } = new List<ColumnInfo>();
        public List<ConstraintObj> Checks { get; } = new List<ConstraintObj>();
        public string? ViewDefinition { get; set; }
        /// <summary>A view created first with NULL columns and replaced in post-data (a dependency loop through it).</summary>
        public bool DummyView { get; set; }
        /// <summary>A materialized view created in post-data (it depends on an index or a key).</summary>
        public bool Postponed { get; set; }
        public bool DumpData { get; set; }
        public DumpObject? DataObj { get; set; }
        public bool HasColumnAcls { get; set; }
        public List<(string Column, Acl Acl)> ColumnAcls { get; } = new List<(string, Acl)>();
        // Sequences
        public SequenceInfo? Sequence { get; set; }
        public uint OwningTable { get; set; }
        public int OwningColumn { get; set; }
        public bool IsIdentitySequence { get; set; }

        public string Qualified => PgIdentifier.Qualify(Namespace!.Name, Name);
        public bool IsView => RelKind == 'v';
        public bool IsMatView => RelKind == 'm';
        public bool IsSequence => RelKind == 'S';
        /// <summary>The word GRANT, ALTER ... OWNER and COMMENT use for it.</summary>
        public string TypeWord => RelKind switch { 'v' => "VIEW", 'm' => "MATERIALIZED VIEW", 'S' => "SEQUENCE", 'f' => "FOREIGN TABLE", _ => "TABLE" };
        public bool HasStorage => RelKind is 'r' or 'm' or 'S';
    }

    internal sealed class SequenceInfo
    {
        public string Type { get; set; } = "bigint";
        public long Start { get; set; }
        public long Increment { get; set; }
        public long Max { get; set; }
        public long Min { get; set; }
        public long Cache { get; set; }
        public bool Cycle { get; set; }
    }

    internal sealed class AttrDefObj : DumpObject
    {
        public AttrDefObj(uint classOid, uint oid, TableObj table, int column, string expression)
            : base(ObjKind.AttrDef, classOid, oid, table.Name)
        {
            Table = table;
            Column = column;
            Expression = expression;
            Namespace = table.Namespace;
        }

        public TableObj Table { get; }
        public int Column { get; }
        public string Expression { get; }
        /// <summary>Written as ALTER TABLE ... SET DEFAULT after the table instead of in CREATE TABLE.</summary>
        public bool Separate { get; set; }
        public override int CompareSameName(DumpObject other) => Column - ((AttrDefObj)other).Column;
    }

    internal sealed class IndexObj : DumpObject
    {
        public IndexObj(uint classOid, uint oid, string name, TableObj table) : base(ObjKind.Index, classOid, oid, name)
        {
            Table = table;
            Namespace = table.Namespace;
        }

        public TableObj Table { get; }
        public string Definition { get; set; } = "";
        public bool Clustered { get; set; }
        public bool ReplIdent { get; set; }
        public uint ParentIndex { get; set; }
        public string? Tablespace { get; set; }
        public List<(string Column, string Value)> StatTargets { get; } = new List<(string, string)>();
        /// <summary>The key constraint this index implements (then the constraint is written, not the index).</summary>
        public ConstraintObj? Constraint { get; set; }
    }

    /// <summary>A partition attached to its parent (TABLE ATTACH), or a partition's index to its parent's (INDEX ATTACH).</summary>
    internal sealed class AttachObj<T> : DumpObject where T : DumpObject
    {
        public AttachObj(ObjKind kind, T parent, T partition) : base(kind, 0, 0, partition.Name)
        {
            Parent = parent;
            Partition = partition;
            Namespace = partition.Namespace;
        }

        public T Parent { get; }
        public T Partition { get; }
    }

    internal sealed class StatsExtObj : DumpObject
    {
        public StatsExtObj(uint classOid, uint oid, string name) : base(ObjKind.StatsExt, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        public TableObj? Table { get; set; }
        public int? StatTarget { get; set; }
        public string Definition { get; set; } = "";
    }

    internal sealed class RuleObj : DumpObject
    {
        public RuleObj(uint classOid, uint oid, string name, TableObj table) : base(ObjKind.Rule, classOid, oid, name)
        {
            Table = table;
            Namespace = table.Namespace;
        }

        public TableObj Table { get; }
        public char EvType { get; set; }
        public bool IsInstead { get; set; }
        public char Enabled { get; set; }
        public bool Separate { get; set; }
        public string Definition { get; set; } = "";
        public bool IsViewSelect => EvType == '1' && IsInstead && (Table.IsView || Table.IsMatView);
        public override int CompareSameName(DumpObject other) => string.CompareOrdinal(Table.Name, ((RuleObj)other).Table.Name);
    }

    internal sealed class TriggerObj : DumpObject
    {
        public TriggerObj(uint classOid, uint oid, string name, TableObj table) : base(ObjKind.Trigger, classOid, oid, name)
        {
            Table = table;
            Namespace = table.Namespace;
        }

        public TableObj Table { get; }
        public string Definition { get; set; } = "";
        public char Enabled { get; set; }
        /// <summary>A partition's copy of its parent's trigger, written only as ENABLE/DISABLE when its state differs.</summary>
        public bool IsPartitionClone { get; set; }
        public override int CompareSameName(DumpObject other) => string.CompareOrdinal(Table.Name, ((TriggerObj)other).Table.Name);
    }

    internal sealed class ConstraintObj : DumpObject
    {
        public ConstraintObj(ObjKind kind, uint classOid, uint oid, string name) : base(kind, classOid, oid, name) { }
        public TableObj? Table { get; set; }
        public TypeObj? Domain { get; set; }
        /// <summary>contype: p, u, x, f, c, n.</summary>
        public char ConType { get; set; }
        public string Definition { get; set; } = "";
        public bool IsLocal { get; set; } = true;
        public bool Validated { get; set; } = true;
        /// <summary>Written on its own (post-data) rather than in CREATE TABLE or CREATE DOMAIN.</summary>
        public bool Separate { get; set; }
        public IndexObj? Index { get; set; }
        public uint ReferencedTable { get; set; }

        public override int CompareSameName(DumpObject other)
        {
            var o = (ConstraintObj)other;
            if (Domain is not null)
                return o.Domain is not null ? string.CompareOrdinal(Domain.Name, o.Domain.Name) : -1;
            if (o.Domain is not null) return 1;
            return string.CompareOrdinal(Table?.Name ?? "", o.Table?.Name ?? "");
        }
    }

    internal sealed class PolicyObj : DumpObject
    {
        /// <summary>A policy, or (<paramref name="name"/> null) the table's ENABLE ROW LEVEL SECURITY.</summary>
        public PolicyObj(uint classOid, uint oid, string? name, TableObj table) : base(ObjKind.Policy, classOid, oid, name ?? table.Name)
        {
            PolicyName = name;
            Table = table;
            Namespace = table.Namespace;
        }

        public string? PolicyName { get; }
        public TableObj Table { get; }
        public char Command { get; set; }
        public bool Permissive { get; set; } = true;
        public string? Roles { get; set; }
        public string? Using { get; set; }
        public string? WithCheck { get; set; }
        public override int CompareSameName(DumpObject other) => string.CompareOrdinal(Table.Name, ((PolicyObj)other).Table.Name);
    }

    internal sealed class PublicationObj : DumpObject
    {
        public PublicationObj(uint classOid, uint oid, string name) : base(ObjKind.Publication, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        public string Definition { get; set; } = "";
    }

    internal sealed class PublicationRelObj : DumpObject
    {
        public PublicationRelObj(uint classOid, uint oid, PublicationObj publication, TableObj table) : base(ObjKind.PublicationRel, classOid, oid, table.Name)
        {
            Publication = publication;
            Table = table;
            Namespace = table.Namespace;
        }

        public PublicationObj Publication { get; }
        public TableObj Table { get; }
        public string? Columns { get; set; }
        public string? Where { get; set; }
        public override int CompareSameName(DumpObject other) => string.CompareOrdinal(Publication.Name, ((PublicationRelObj)other).Publication.Name);
    }

    internal sealed class PublicationSchemaObj : DumpObject
    {
        public PublicationSchemaObj(uint classOid, uint oid, PublicationObj publication, NamespaceObj schema) : base(ObjKind.PublicationSchema, classOid, oid, schema.Name)
        {
            Publication = publication;
            Schema = schema;
            Namespace = schema;
        }

        public PublicationObj Publication { get; }
        public NamespaceObj Schema { get; }
        public override int CompareSameName(DumpObject other) => string.CompareOrdinal(Publication.Name, ((PublicationSchemaObj)other).Publication.Name);
    }

    internal sealed class DefaultAclObj : DumpObject
    {
        public DefaultAclObj(uint classOid, uint oid, string name) : base(ObjKind.DefaultAcl, classOid, oid, name) { }
        public string Role { get; set; } = "";
        public string ObjectType { get; set; } = "";
        public Acl? Acl { get; set; }
        public override int CompareSameName(DumpObject other) => string.CompareOrdinal(Role, ((DefaultAclObj)other).Role);
    }

    internal sealed class EventTriggerObj : DumpObject
    {
        public EventTriggerObj(uint classOid, uint oid, string name) : base(ObjKind.EventTrigger, classOid, oid, name) { }
        public string Owner { get; set; } = "";
        public string Definition { get; set; } = "";
    }

    /// <summary>Table data, a sequence's value, or a materialized view's REFRESH (pg_dump's TableDataInfo).</summary>
    internal sealed class TableDataObj : DumpObject
    {
        public TableDataObj(ObjKind kind, TableObj table) : base(kind, 0, 0, table.Name)
        {
            Table = table;
            Namespace = table.Namespace;
        }

        public TableObj Table { get; }
    }

    internal sealed class LargeObjectInfo
    {
        public uint Oid { get; set; }
        public string Owner { get; set; } = "";
        public Acl? Acl { get; set; }
    }

    /// <summary>All large objects (their metadata, or their data).</summary>
    internal sealed class LargeObjectsObj : DumpObject
    {
        public LargeObjectsObj(ObjKind kind, List<LargeObjectInfo> objects) : base(kind, 0, 0, "large objects") { Objects = objects; }
        public List<LargeObjectInfo> Objects { get; }
    }
}
