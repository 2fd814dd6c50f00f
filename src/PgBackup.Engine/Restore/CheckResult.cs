using System;
using System.Collections.Generic;
using System.Linq;

namespace PgBackup
{
    /// <summary>One check of a backup test or restore, and its outcome.</summary>
    public sealed class CheckResult
    {
        public CheckResult(string name, bool passed, string detail, TimeSpan duration)
        {
            Name = name;
            Passed = passed;
            Detail = detail;
            Duration = duration;
        }

        /// <summary>Checksum, Archive, Script, Tool, Restore, RowCounts, Cleanup.</summary>
        public string Name { get; }
        public bool Passed { get; }
        public string Detail { get; }
        public TimeSpan Duration { get; }
        public override string ToString() => $"{Name}: {(Passed ? "passed" : "FAILED")} ({Detail})";
    }

    /// <summary>What reading a whole backup found: the checks, and the row counts in the archive when it shows them.</summary>
    public sealed class VerificationReport
    {
        public List<CheckResult> Checks { get; } = new List<CheckResult>();
        /// <summary>Row counts read from the archive itself (Plain backups, and Custom/Directory read in full); null when not read.</summary>
        public List<TableRowCount>? ArchiveTables { get; set; }
        /// <summary>The root of a table's partition tree as the archive's script attaches it (null: not a partition).</summary>
        public Func<string, string?>? ArchivePartitionRoot { get; set; }
        public bool Passed => Checks.All(c => c.Passed);
        public CheckResult? FirstFailure => Checks.FirstOrDefault(c => !c.Passed);
        /// <summary>The error that a failed check stands for.</summary>
        public PgBackupException? Failure { get; set; }
    }

    /// <summary>Compares row counts; returns the differences as readable lines (empty when equal).</summary>
    public static class RowCountComparer
    {
        public static List<string> Differences(IEnumerable<TableRowCount> expected, IEnumerable<TableRowCount> actual) =>
            Differences(expected, actual, null, null);

        /// <summary>
        /// Table by table; then a table that differs and is in a partition tree (<paramref name="rootOf"/>: its root,
        /// or null) is compared with its tree as a whole: the expected rows of every table of that tree against
        /// <paramref name="treeRows"/> of the root. Rows loaded through the root (<c>--load-via-partition-root</c>, which
        /// pg_dump chooses itself for hash partitions on an enum) land in whichever partition the restored server's
        /// hash picks, and a partitioned table holds no rows of its own; the tree's total is what must match.
        /// </summary>
        public static List<string> Differences(IEnumerable<TableRowCount> expected, IEnumerable<TableRowCount> actual,
            Func<string, string?>? rootOf, Func<string, long>? treeRows)
        {
            var expectedList = expected.ToList();
            var have = actual.GroupBy(t => (t.Schema, t.Name)).ToDictionary(g => g.Key, g => g.First().Rows);
            var diffs = new List<(string Table, string Text)>();
            foreach (var t in expectedList)
            {
                if (!have.TryGetValue((t.Schema, t.Name), out var rows) || rows < 0)
                    diffs.Add((t.QualifiedName, $"{t.QualifiedName}: missing (expected {t.Rows} rows)"));
                else if (rows != t.Rows)
                    diffs.Add((t.QualifiedName, $"{t.QualifiedName}: {rows} rows, expected {t.Rows}"));
            }
            if (rootOf is null || treeRows is null || diffs.Count == 0) return diffs.Select(d => d.Text).ToList();

            var roots = new Dictionary<string, string?>(StringComparer.Ordinal);
            string? Root(string table) => roots.TryGetValue(table, out var r) ? r : roots[table] = rootOf(table);
            var result = new List<string>();
            var trees = new HashSet<string>(StringComparer.Ordinal);
            foreach (var d in diffs)
            {
                var root = Root(d.Table);
                if (root is null) { result.Add(d.Text); continue; }
                if (!trees.Add(root)) continue;
                long want = expectedList.Where(t => Root(t.QualifiedName) == root).Sum(t => t.Rows);
                long got = treeRows(root);
                if (got != want) result.Add($"{root} (partitioned; all its partitions): {got} rows, expected {want}");
            }
            return result;
        }
    }
}
