using System;
using System.Collections.Generic;
using System.Linq;

namespace PgBackup.Native
{
    /// <summary>
    /// Puts the objects into a safe order, as pg_dump_sort.c does: first by type priority, schema and name, then a
    /// topological sort over their dependencies that moves as little as possible, repairing the dependency loops
    /// pg_dump knows how to break (a view and its ON SELECT rule, a table and a CHECK constraint or default that
    /// depends on it, a domain and its constraint, a partitioned index and its partitions' indexes, functions and
    /// materialized views that need something of post-data). No library orders PostgreSQL DDL; this is pg_dump's
    /// algorithm, ported.
    /// </summary>
    internal sealed class DumpSorter
    {
        private readonly List<DumpObject> _all;
        private readonly DumpObject _preBoundary;
        private readonly DumpObject _postBoundary;
        private readonly IOperationLog _log;

        public DumpSorter(List<DumpObject> all, DumpObject preBoundary, DumpObject postBoundary, IOperationLog log)
        {
            _all = all;
            _preBoundary = preBoundary;
            _postBoundary = postBoundary;
            _log = log;
        }

        /// <summary>pg_dump's dbObjectTypePriorities.</summary>
        public static int Priority(ObjKind kind) => kind switch
        {
            ObjKind.Namespace => 1,
            ObjKind.Collation => 3,
            ObjKind.Extension => 5,
            ObjKind.Type => 6,
            ObjKind.Cast => 7,
            ObjKind.Function => 8,
            ObjKind.Aggregate => 9,
            ObjKind.Operator => 11,
            ObjKind.Table => 20,
            ObjKind.TableAttach => 21,
            ObjKind.DummyType => 22,
            ObjKind.AttrDef => 23,
            ObjKind.PreDataBoundary => 24,
            ObjKind.TableData => 25,
            ObjKind.SequenceSet => 26,
            ObjKind.LargeObject => 27,
            ObjKind.LargeObjectData => 28,
            ObjKind.PostDataBoundary => 30,
            ObjKind.Constraint => 31,
            ObjKind.Index => 32,
            ObjKind.IndexAttach => 33,
            ObjKind.StatsExt => 34,
            ObjKind.Rule => 35,
            ObjKind.Trigger => 36,
            ObjKind.FkConstraint => 37,
            ObjKind.Policy => 38,
            ObjKind.Publication => 39,
            ObjKind.PublicationRel => 40,
            ObjKind.PublicationSchema => 41,
            ObjKind.DefaultAcl => 44,
            ObjKind.EventTrigger => 45,
            ObjKind.RefreshMatView => 46,
            // Objects only sorted, never written (an extension's members, internal triggers): last, so that they
            // never pull what depends on them forward.
            _ => 100,
        };

        private static int PriorityOf(DumpObject o) => Priority(o.Kind);

        /// <summary>pg_dump's DOTypeNameCompare.</summary>
        private static int Compare(DumpObject a, DumpObject b)
        {
            int c = PriorityOf(a) - PriorityOf(b);
            if (c != 0) return c;
            if (a.Namespace is not null)
            {
                if (b.Namespace is null) return -1;
                c = string.CompareOrdinal(a.Namespace.Name, b.Namespace.Name);
                if (c != 0) return c;
            }
            else if (b.Namespace is not null) return 1;
            c = string.CompareOrdinal(a.Name, b.Name);
            if (c != 0) return c;
            c = a.Kind - b.Kind;
            if (c != 0) return c;
            if (a.GetType() == b.GetType())
            {
                c = a.CompareSameName(b);
                if (c != 0) return c;
            }
            c = a.Oid.CompareTo(b.Oid);
            return c != 0 ? c : a.DumpId - b.DumpId;
        }

        public List<DumpObject> Sort()
        {
            var byType = _all.ToList();
            byType.Sort(Compare);
            List<DumpObject>? ordering;
            while (!TopoSort(byType, out ordering, out var unsorted))
                FindDependencyLoops(unsorted);
            return ordering!;
        }

        private DumpObject ById(int id) => _all[id - 1];

        /// <summary>
        /// Knuth's topological sort, taking at each step the object highest in the input order, output from the end
        /// (pg_dump's TopoSort). On failure, <paramref name="unsorted"/> holds the objects in or behind a loop.
        /// </summary>
        private bool TopoSort(List<DumpObject> objs, out List<DumpObject>? ordering, out List<DumpObject> unsorted)
        {
            int max = _all.Count;
            var before = new int[max + 1];
            var index = new int[max + 1];
            for (int i = 0; i < objs.Count; i++)
            {
                index[objs[i].DumpId] = i;
                foreach (var k in objs[i].Deps) before[k]++;
            }
            var heap = new SortedSet<int>(Comparer<int>.Create((x, y) => y.CompareTo(x)));
            for (int i = 0; i < objs.Count; i++)
                if (before[objs[i].DumpId] == 0) heap.Add(i);
            var result = new DumpObject[objs.Count];
            int left = objs.Count;
            while (heap.Count > 0)
            {
                int j = heap.Min;
                heap.Remove(j);
                var obj = objs[j];
                result[--left] = obj;
                foreach (var id in obj.Deps)
                    if (--before[id] == 0) heap.Add(index[id]);
            }
            if (left == 0)
            {
                ordering = result.ToList();
                unsorted = new List<DumpObject>();
                return true;
            }
            ordering = null;
            unsorted = new List<DumpObject>();
            for (int id = 1; id <= max; id++)
                if (before[id] != 0) unsorted.Add(ById(id));
            return false;
        }

        private void FindDependencyLoops(List<DumpObject> objs)
        {
            var processed = new bool[_all.Count + 1];
            var searchFailed = new int[_all.Count + 1];
            var workspace = new List<DumpObject>();
            bool fixedLoop = false;
            foreach (var obj in objs)
            {
                workspace.Clear();
                int length = FindLoop(obj, obj.DumpId, processed, searchFailed, workspace);
                if (length > 0)
                {
                    RepairLoop(workspace.Take(length).ToList());
                    fixedLoop = true;
                    foreach (var o in workspace.Take(length)) processed[o.DumpId] = true;
                }
                else processed[obj.DumpId] = true;
            }
            if (!fixedLoop)
                throw new PgBackupException(ErrorIds.NativeDumpFailed, ErrorKind.InvalidOperation,
                    "The native dump could not order the database's objects: a dependency loop was found and not identified. Back up with -Engine PgDump.");
        }

        private int FindLoop(DumpObject obj, int startPoint, bool[] processed, int[] searchFailed, List<DumpObject> workspace)
        {
            if (processed[obj.DumpId] || searchFailed[obj.DumpId] == startPoint || workspace.Contains(obj)) return 0;
            workspace.Add(obj);
            if (obj.Deps.Contains(startPoint)) return workspace.Count;
            foreach (var id in obj.Deps.ToList())
            {
                int depth = FindLoop(ById(id), startPoint, processed, searchFailed, workspace);
                if (depth > 0) return depth;
            }
            workspace.RemoveAt(workspace.Count - 1);
            searchFailed[obj.DumpId] = startPoint;
            return 0;
        }

        /// <summary>pg_dump's repairDependencyLoop, for the kinds this engine writes.</summary>
        private void RepairLoop(List<DumpObject> loop)
        {
            int n = loop.Count;
            // A view (or materialized view) and its ON SELECT rule.
            if (n == 2 && Pair<TableObj, RuleObj>(loop, out var view, out var rule) && rule.IsViewSelect && rule.Table == view)
            {
                rule.RemoveDep(view);
                return;
            }
            if (n > 2)
            {
                foreach (var v in loop.OfType<TableObj>().Where(t => t.IsView))
                    if (loop.OfType<RuleObj>().FirstOrDefault(r => r.IsViewSelect && r.Table == v) is RuleObj r)
                    {
                        // The view is created with NULL columns; its real definition comes in post-data.
                        v.RemoveDep(r);
                        v.DummyView = true;
                        r.Separate = true;
                        r.Dump = v.Dump;
                        r.AddDep(v);
                        r.AddDep(_postBoundary);
                        return;
                    }
                if (loop.OfType<TableObj>().Any(t => t.IsMatView) && BoundaryNext(loop, ObjKind.PreDataBoundary) is DumpObject mvNext)
                {
                    _preBoundary.RemoveDep(mvNext);
                    if (mvNext is TableObj { IsMatView: true } mv) mv.Postponed = true;
                    return;
                }
                if (loop.Any(o => o.Kind == ObjKind.Function) && BoundaryNext(loop, ObjKind.PreDataBoundary) is DumpObject fnNext)
                {
                    _preBoundary.RemoveDep(fnNext);
                    if (fnNext is FuncObj { Kind: ObjKind.Function } fn) fn.Postponed = true;
                    return;
                }
            }
            // A table and one of its CHECK constraints.
            if (n == 2 && Pair<TableObj, ConstraintObj>(loop, out var table, out var check) && check.ConType == 'c' && check.Table == table)
            {
                check.RemoveDep(table);
                return;
            }
            if (n > 2)
                foreach (var t in loop.OfType<TableObj>())
                    if (loop.OfType<ConstraintObj>().FirstOrDefault(c => c.ConType == 'c' && c.Table == t) is ConstraintObj c)
                    {
                        t.RemoveDep(c);
                        c.Separate = true;
                        c.AddDep(t);
                        c.AddDep(_postBoundary);
                        return;
                    }
            // A table and a column default.
            if (n == 2 && Pair<TableObj, AttrDefObj>(loop, out var dt, out var def) && def.Table == dt)
            {
                def.RemoveDep(dt);
                return;
            }
            // A partitioned index and a partition's index.
            if (n == 2 && loop[0] is IndexObj i0 && loop[1] is IndexObj i1)
            {
                if (i0.ParentIndex == i1.Oid) { i0.RemoveDep(i1); return; }
                if (i1.ParentIndex == i0.Oid) { i1.RemoveDep(i0); return; }
            }
            if (n > 2)
                foreach (var t in loop.OfType<TableObj>())
                    if (loop.OfType<AttrDefObj>().FirstOrDefault(d => d.Table == t) is AttrDefObj d)
                    {
                        t.RemoveDep(d);
                        d.Separate = true;
                        d.AddDep(t);
                        return;
                    }
            // A domain and one of its constraints.
            if (n == 2 && Pair<TypeObj, ConstraintObj>(loop, out var domain, out var dc) && dc.Domain == domain)
            {
                dc.RemoveDep(domain);
                return;
            }
            if (n > 2)
                foreach (var t in loop.OfType<TypeObj>())
                    if (loop.OfType<ConstraintObj>().FirstOrDefault(c => c.Domain == t) is ConstraintObj c)
                    {
                        t.RemoveDep(c);
                        c.Separate = true;
                        c.AddDep(t);
                        c.AddDep(_postBoundary);
                        return;
                    }
            if (n == 1 && loop[0] is TableObj self)
            {
                self.RemoveDep(self);
                return;
            }
            if (loop.All(o => o.Kind == ObjKind.TableData))
            {
                _log.Warning("There are circular foreign keys among these tables: " + string.Join(", ", loop.Select(o => ((TableDataObj)o).Table.Qualified)) +
                             ". A restore of this data-only backup may fail unless the keys are dropped first; a full backup does not have this problem.");
                loop[0].RemoveDep(n > 1 ? loop[1] : loop[0]);
                return;
            }
            // A loop among objects the dump does not write (an extension's type and its I/O functions) orders nothing written.
            if (loop.All(o => !o.Dump))
            {
                loop[0].RemoveDep(loop[1 % n]);
                return;
            }
            // pg_dump breaks other loops arbitrarily, with a warning.
            _log.Warning("Could not resolve a dependency loop among: " + string.Join("; ", loop.Where(o => o.Dump).Select(o => o.ToString())) +
                         ". The loop was broken arbitrarily, as pg_dump does; check that the backup restores (Test-PgBackup -Restore).");
            loop[0].RemoveDep(loop[1 % n]);
        }

        private static DumpObject? BoundaryNext(List<DumpObject> loop, ObjKind boundary)
        {
            for (int j = 0; j < loop.Count; j++)
                if (loop[j].Kind == boundary) return loop[(j + 1) % loop.Count];
            return null;
        }

        private static bool Pair<TA, TB>(List<DumpObject> loop, out TA a, out TB b) where TA : DumpObject where TB : DumpObject
        {
            a = null!;
            b = null!;
            if (loop[0] is TA a0 && loop[1] is TB b1) { a = a0; b = b1; return true; }
            if (loop[1] is TA a1 && loop[0] is TB b0) { a = a1; b = b0; return true; }
            return false;
        }
    }
}
