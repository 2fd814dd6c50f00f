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
        public bool Passed => Checks.All(c => c.Passed);
        public CheckResult? FirstFailure => Checks.FirstOrDefault(c => !c.Passed);
        /// <summary>The error that a failed check stands for.</summary>
        public PgBackupException? Failure { get; set; }
    }

    /// <summary>Compares row counts; returns the differences as readable lines (empty when equal).</summary>
    public static class RowCountComparer
    {
        public static List<string> Differences(IEnumerable<TableRowCount> expected, IEnumerable<TableRowCount> actual)
        {
            var have = actual.GroupBy(t => (t.Schema, t.Name)).ToDictionary(g => g.Key, g => g.First().Rows);
            var diffs = new List<string>();
            foreach (var t in expected)
            {
                if (!have.TryGetValue((t.Schema, t.Name), out var rows) || rows < 0)
                    diffs.Add($"{t.QualifiedName}: missing (expected {t.Rows} rows)");
                else if (rows != t.Rows)
                    diffs.Add($"{t.QualifiedName}: {rows} rows, expected {t.Rows}");
            }
            return diffs;
        }
    }
}
