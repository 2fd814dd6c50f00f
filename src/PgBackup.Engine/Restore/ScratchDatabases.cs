using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;

namespace PgBackup
{
    /// <summary>What PgBackup made one of its own databases for.</summary>
    public enum ScratchKind
    {
        /// <summary>Restore-PgBackup restores into it, then puts it in the target's place.</summary>
        Restore,
        /// <summary>The target's old contents after a restore replaced them (dropped at once unless -KeepPrevious).</summary>
        Previous,
        /// <summary>Test-PgBackup -Restore.</summary>
        Drill,
        /// <summary>Export-PgBackupData.</summary>
        Export,
        /// <summary>Restore-PgBackup -Table/-Schema restores the whole backup here, then copies the selection.</summary>
        Partial,
    }

    /// <summary>
    /// The names of PgBackup's own databases: <c>&lt;target&gt;_pgbackup_restore_</c>, <c>&lt;target&gt;_pgbackup_previous_</c>,
    /// <c>pgbackup_drill_</c>, <c>pgbackup_export_</c> or <c>pgbackup_partial_</c>, then 12 random hexadecimal digits.
    /// No database PgBackup makes for a user has such a name: Restore-PgBackup refuses them as its target. A name alone
    /// proves nothing (anyone may create any name), so the sweep also needs PgBackup's mark (<see cref="ScratchMark"/>).
    /// </summary>
    public static class ScratchNames
    {
        private const int SuffixLength = 12;
        private static readonly Regex Reserved = new Regex(@"(?:^|_)pgbackup_(restore|previous|drill|export|partial)_[0-9a-f]{12}$", RegexOptions.CultureInvariant);

        /// <summary>A new name (a random suffix; not checked against the server), at most 63 bytes, the target's name shortened to fit.</summary>
        public static string New(ScratchKind kind, string? target)
        {
            var suffix = Guid.NewGuid().ToString("n").Substring(0, SuffixLength);
            var tail = "pgbackup_" + kind.ToString().ToLowerInvariant() + "_" + suffix;
            if (kind != ScratchKind.Restore && kind != ScratchKind.Previous || string.IsNullOrEmpty(target)) return tail;
            var head = target!;
            while (Encoding.UTF8.GetByteCount(head + "_" + tail) > 63)
                head = head.Substring(0, char.IsLowSurrogate(head[head.Length - 1]) && head.Length > 1 ? head.Length - 2 : head.Length - 1);
            return head.Length == 0 ? tail : head + "_" + tail;
        }

        /// <summary>True for the names <see cref="New"/> makes (and only those shapes).</summary>
        public static bool IsReserved(string name) => Reserved.IsMatch(name);
    }

    /// <summary>
    /// PgBackup's mark on a database it made for its own use: its comment (<c>COMMENT ON DATABASE</c>), written right
    /// after CREATE DATABASE, naming the kind, the machine, the process (id and start) and the time (the server's clock).
    /// When the database becomes the user's (a restore's swap or rename), the mark is replaced by the database's own
    /// comment in the same transaction, so a restored database never carries it.
    /// </summary>
    public sealed record ScratchMark
    {
        public const string Prefix = "PgBackup scratch database: ";

        public ScratchKind Kind { get; init; }
        public string Host { get; init; } = "";
        public int ProcessId { get; init; }
        public DateTime ProcessStart { get; init; }
        /// <summary>The process's start as <see cref="ProcessIdentity"/> compares it.</summary>
        public string ProcessStartKey { get; init; } = "";
        /// <summary>When the database was made, by the server's clock (UTC).</summary>
        public DateTime Created { get; init; }
        /// <summary>Kept on purpose (Test-PgBackup -Keep, Restore-PgBackup -KeepPrevious): never swept, removed only by name.</summary>
        public bool Kept { get; init; }

        /// <summary>The mark of a database this process makes now (<paramref name="serverNow"/>: the server's clock).</summary>
        public static ScratchMark ForThisProcess(ScratchKind kind, DateTime serverNow, bool kept = false) => new ScratchMark
        {
            Kind = kind,
            Host = ProcessIdentity.Host,
            ProcessId = ProcessIdentity.Id,
            ProcessStart = ProcessIdentity.StartUtc,
            ProcessStartKey = ProcessIdentity.StartKey,
            Created = serverNow.ToUniversalTime(),
            Kept = kept,
        };

        public string ToComment()
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("kind", Kind.ToString().ToLowerInvariant());
                w.WriteString("host", Host);
                w.WriteNumber("pid", ProcessId);
                w.WriteString("processStart", Iso(ProcessStart));
                w.WriteString("processStartKey", ProcessStartKey);
                w.WriteString("created", Iso(Created));
                if (Kept) w.WriteBoolean("kept", true);
                w.WriteEndObject();
            }
            return Prefix + Encoding.UTF8.GetString(buffer.ToArray());
        }

        /// <summary>The mark in a database's comment, or null when the comment is not PgBackup's mark.</summary>
        public static ScratchMark? Parse(string? comment)
        {
            if (comment is null || !comment.StartsWith(Prefix, StringComparison.Ordinal)) return null;
            try
            {
                using var doc = JsonDocument.Parse(comment.Substring(Prefix.Length));
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object || !Enum.TryParse<ScratchKind>(r.GetProperty("kind").GetString(), true, out var kind)) return null;
                return new ScratchMark
                {
                    Kind = kind,
                    Host = r.GetProperty("host").GetString() ?? "",
                    ProcessId = r.GetProperty("pid").GetInt32(),
                    ProcessStart = ParseIso(r.GetProperty("processStart").GetString()),
                    ProcessStartKey = r.GetProperty("processStartKey").GetString() ?? "",
                    Created = ParseIso(r.GetProperty("created").GetString()),
                    Kept = r.TryGetProperty("kept", out var kept) && kept.ValueKind == JsonValueKind.True,
                };
            }
            catch (Exception e) when (e is JsonException || e is KeyNotFoundException || e is InvalidOperationException || e is FormatException)
            {
                return null;
            }
        }

        private static string Iso(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

        private static DateTime ParseIso(string? text) =>
            DateTime.ParseExact(text ?? "", "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
    }

    /// <summary>Where one of PgBackup's own databases stands.</summary>
    public enum ScratchStatus
    {
        /// <summary>Sessions are connected to it: never dropped.</summary>
        InUse,
        /// <summary>Kept on purpose (-Keep, -KeepPrevious): dropped only when named.</summary>
        Kept,
        /// <summary>The process that made it runs on this machine: its job goes on.</summary>
        Running,
        /// <summary>Left by a job that did not finish: dropped by the next restore, drill or export on the server.</summary>
        Stale,
        /// <summary>Made on another machine less than a day ago: its job may still run.</summary>
        Recent,
    }

    /// <summary>One of PgBackup's own databases on a server (<c>PgBackup.ScratchDatabase</c>).</summary>
    public sealed class ScratchDatabase
    {
        public string Name { get; init; } = "";
        public ScratchKind Kind { get; init; }
        public ScratchStatus Status { get; init; }
        /// <summary>True when PgBackup drops it before it makes a database of its own on this server.</summary>
        public bool Stale { get; init; }
        public long? SizeBytes { get; internal set; }
        public int Connections { get; init; }
        /// <summary>When it was made, by the server's clock (UTC).</summary>
        public DateTime Created { get; init; }
        public TimeSpan Age { get; init; }
        public string Host { get; init; } = "";
        public int ProcessId { get; init; }
        public DateTime ProcessStart { get; init; }
        public ProcessLiveness Process { get; init; }
        /// <summary>The server (host:port).</summary>
        public string Server { get; init; } = "";

        /// <summary>How warnings and confirmations name it: name, size, kind, and which process made it when.</summary>
        public string Describe() =>
            $"'{Name}' ({(SizeBytes is long b ? ByteProgress.Format(b) : "size unknown")}, a {Kind.ToString().ToLowerInvariant()} database made " +
            $"{Created.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC by process {ProcessId} on host {Host}{(Process == ProcessLiveness.Gone ? ", which has ended" : "")})";
    }

    /// <summary>
    /// Finds PgBackup's own databases on a server and drops the ones that jobs killed half-way left (a scheduler's time
    /// limit, a reboot, an out-of-memory kill): marked by PgBackup, with a reserved name, without connections, and made by
    /// a process of this machine that has ended, or more than <see cref="SafeAge"/> ago. A database with connections,
    /// one whose process still runs, and one kept on purpose are never dropped.
    /// </summary>
    public static class ScratchDatabases
    {
        /// <summary>After this, a database made on another machine counts as left behind (as partial files do).</summary>
        public static readonly TimeSpan SafeAge = TimeSpan.FromHours(24);

        /// <summary>
        /// Every marked database with a reserved name on the server <paramref name="admin"/> is connected to; with
        /// <paramref name="staleSizesOnly"/>, only the stale ones are measured (a restore under way can be large).
        /// </summary>
        public static List<ScratchDatabase> List(DatabaseAdmin admin, CancellationToken ct, bool staleSizesOnly = false)
        {
            var result = new List<ScratchDatabase>();
            foreach (var (name, comment, connections, now) in admin.MarkedDatabases(ScratchMark.Prefix, ct))
            {
                var mark = ScratchMark.Parse(comment);
                if (mark is null || !ScratchNames.IsReserved(name)) continue;
                var db = Describe(name, mark, connections, now, ProcessIdentity.Check(mark.Host, mark.ProcessId, mark.ProcessStartKey), null, admin.Server.Info.Server);
                if (!staleSizesOnly || db.Stale) db.SizeBytes = admin.SizeOf(name);
                result.Add(db);
            }
            return result.OrderBy(d => d.Created).ToList();
        }

        /// <summary>What a marked database is now: the rule that decides what is stale.</summary>
        internal static ScratchDatabase Describe(string name, ScratchMark mark, int connections, DateTime serverNow, ProcessLiveness process, long? size, string server)
        {
            var age = serverNow.ToUniversalTime() - mark.Created;
            bool stale = connections == 0 && !mark.Kept &&
                         (process == ProcessLiveness.Gone || process == ProcessLiveness.Unknown && age > SafeAge);
            var status = connections > 0 ? ScratchStatus.InUse
                : mark.Kept ? ScratchStatus.Kept
                : process == ProcessLiveness.Running ? ScratchStatus.Running
                : stale ? ScratchStatus.Stale
                : ScratchStatus.Recent;
            return new ScratchDatabase
            {
                Name = name,
                Kind = mark.Kind,
                Status = status,
                Stale = stale,
                SizeBytes = size,
                Connections = connections,
                Created = mark.Created,
                Age = age < TimeSpan.Zero ? TimeSpan.Zero : age,
                Host = mark.Host,
                ProcessId = mark.ProcessId,
                ProcessStart = mark.ProcessStart,
                Process = process,
                Server = server,
            };
        }

        /// <summary>
        /// Drops the stale databases (see the class summary), each with a warning that names it and its size. What cannot
        /// be dropped is left for the next run; a failure here never stops the work that called it.
        /// </summary>
        public static List<ScratchDatabase> SweepStale(DatabaseAdmin admin, IOperationLog log, CancellationToken ct)
        {
            var dropped = new List<ScratchDatabase>();
            List<ScratchDatabase> all;
            try { all = List(admin, ct, staleSizesOnly: true); }
            catch (PgBackupException e)
            {
                log.Warning($"Could not look for scratch databases that interrupted PgBackup jobs left on {admin.Server.Info.Server}: {e.Message}");
                return dropped;
            }
            foreach (var db in all.Where(d => d.Stale))
            {
                try
                {
                    if (!admin.DropIfUnused(db.Name, ct))
                    {
                        log.Verbose($"Did not drop '{db.Name}': a session connected to it meanwhile.");
                        continue;
                    }
                    dropped.Add(db);
                    log.Warning($"Dropped {db.Describe()}, left on {db.Server} by a PgBackup job that did not finish.");
                }
                catch (PgBackupException e)
                {
                    log.Warning($"Could not drop {db.Describe()}, left on {db.Server} by a PgBackup job that did not finish: {e.Message}");
                }
            }
            return dropped;
        }
    }
}
