using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace FakeNeon
{
    public sealed class FakeNeonConfig
    {
        /// <summary>The API keys the fake accepts (Authorization: Bearer ...).</summary>
        public List<string> ApiKeys { get; set; } = new List<string>();
        /// <summary>postgresql:// URI of an admin connection to the server that holds the branch databases; null: none.</summary>
        public string? AdminConnectionUri { get; set; }
        /// <summary>The most branches one page of GET /projects/{id}/branches holds, whatever limit the client asks.</summary>
        public int BranchPageSize { get; set; } = 100;
        public int ProjectPageSize { get; set; } = 400;
        /// <summary>How long an operation takes: scheduling for the first fifth, then running, then finished.</summary>
        public int OperationMs { get; set; } = 300;
        /// <summary>How long a project stays locked (423) after its last operation finished: Neon's lagging operations list.</summary>
        public int LockLagMs { get; set; } = 100;
        /// <summary>Validate every API answer against the spec (strict) and record violations.</summary>
        public bool ValidateResponses { get; set; } = true;
        /// <summary>Answer like Neon in 2026-09: extra fields (slug, hosts, group) and operation actions outside the spec's enum.</summary>
        public bool Drift { get; set; }
    }

    public sealed class FakeOperation
    {
        public Guid Id { get; } = Guid.NewGuid();
        public string ProjectId { get; init; } = "";
        public string? BranchId { get; init; }
        public string? EndpointId { get; init; }
        public string Action { get; init; } = "";
        public DateTime Created { get; init; }
        public int DurationMs { get; set; }
        public bool Fails { get; init; }
        public DateTime FinishesAt => Created.AddMilliseconds(DurationMs);
        /// <summary>How often a client asked for this operation (GET .../operations/{id}).</summary>
        public int Polls { get; set; }

        /// <summary>
        /// The status by time (scheduling for the first fifth of the duration, then running, then finished), but a
        /// poll moves it at most one step: a client that polls sees scheduling, running, finished over a few polls.
        /// </summary>
        public string Status(DateTime now)
        {
            var elapsed = (now - Created).TotalMilliseconds;
            int step = elapsed < DurationMs * 0.2 ? 0 : elapsed < DurationMs ? 1 : 2;
            step = Math.Min(step, Polls);
            return step switch { 0 => "scheduling", 1 => "running", _ => Fails ? "failed" : "finished" };
        }

        public bool Done(DateTime now) => now >= FinishesAt;
    }

    public sealed class FakeBranch
    {
        public string Id { get; init; } = "";
        public string ProjectId { get; init; } = "";
        public string Name { get; set; } = "";
        public string? ParentId { get; set; }
        public string? ParentLsn { get; set; }
        public DateTime? ParentTimestamp { get; set; }
        public DateTime CreatedAt { get; set; }
        public DateTime UpdatedAt { get; set; }
        public DateTime StateChangedAt { get; set; }
        public bool Default { get; set; }
        public bool Protected { get; set; }
        public DateTime? ExpiresAt { get; set; }
        public string Database { get; set; } = "";
        public string? RestoredFrom { get; set; }
        /// <summary>The operations the branch's current state waits for (creation, restore).</summary>
        public List<FakeOperation> StateOps { get; set; } = new List<FakeOperation>();
        public bool Deleted { get; set; }

        public (string current, string? pending) State(DateTime now)
        {
            if (StateOps.Any(o => !o.Done(now))) return ("init", "ready");
            if (StateOps.Any(o => o.Fails)) return ("init", null);
            return ("ready", null);
        }
    }

    public sealed class FakeEndpoint
    {
        public string Id { get; init; } = "";
        public string ProjectId { get; init; } = "";
        public string BranchId { get; set; } = "";
        public string Host { get; init; } = "";
        public string PoolerHost { get; init; } = "";
        public string ProxyHost { get; init; } = "";
        public DateTime CreatedAt { get; init; }
    }

    public sealed class FakeProject
    {
        public string Id { get; init; } = "";
        public string Name { get; set; } = "";
        public string RegionId { get; init; } = "aws-us-east-2";
        public string? OrgId { get; init; }
        public string? Cell { get; init; }
        public int BranchLimit { get; set; } = 10;
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; set; }
        public List<FakeBranch> Branches { get; } = new List<FakeBranch>();
        public List<FakeEndpoint> Endpoints { get; } = new List<FakeEndpoint>();
        public List<FakeOperation> Operations { get; } = new List<FakeOperation>();
        public HashSet<string> DeletedBranchIds { get; } = new HashSet<string>(StringComparer.Ordinal);

        public IEnumerable<FakeBranch> Live => Branches.Where(b => !b.Deleted);

        /// <summary>The proxy host of the project's region: us-east-2.aws.neon.tech, with a cell label when it has one.</summary>
        public string ProxyHost
        {
            get
            {
                var parts = RegionId.Split('-', 2); // aws-us-east-2 => aws, us-east-2
                var host = parts.Length == 2 ? $"{parts[1]}.{parts[0]}.neon.tech" : $"{RegionId}.neon.tech";
                return Cell is null ? host : $"{Cell}.{host}";
            }
        }
    }

    public sealed class Fault
    {
        public int Status { get; set; }
        public int Count { get; set; } = 1;
        /// <summary>Do the request, then answer <see cref="Status"/> anyway: an answer lost after Neon acted.</summary>
        public bool After { get; set; }
        public string? RetryAfter { get; set; }
        public string? Method { get; set; }
        public string? Path { get; set; }
        public string? Message { get; set; }
        public string? Code { get; set; }
        /// <summary>"fail", "hang" or "slow": the operations of the next <see cref="Count"/> mutations fail, take ten minutes, or take <see cref="DurationMs"/>.</summary>
        public string? Operation { get; set; }
        public int DurationMs { get; set; }
    }

    public sealed class RequestRecord
    {
        public DateTime Time { get; init; }
        public string Method { get; init; } = "";
        public string Path { get; init; } = "";
        public int Status { get; set; }
        public bool Authorized { get; init; }
        public string? Fault { get; set; }
    }

    /// <summary>Neon-like ids: br-word-word-8alnum, ep-word-word-8alnum, word-word-8digits.</summary>
    public static class Ids
    {
        private static readonly string[] Words =
        {
            "aged", "bold", "calm", "cool", "dawn", "dry", "fancy", "floral", "frosty", "holy", "icy", "jolly", "late",
            "lingering", "little", "misty", "morning", "muddy", "noisy", "odd", "old", "orange", "plain", "proud", "purple",
            "quiet", "rapid", "red", "round", "shiny", "silent", "small", "snowy", "solitary", "still", "summer", "sweet",
            "tiny", "twilight", "weathered", "wild", "winter", "young", "bird", "breeze", "brook", "butterfly", "cake",
            "cell", "cherry", "cloud", "darkness", "dew", "dream", "dust", "feather", "field", "fire", "firefly", "flower",
            "fog", "forest", "frog", "frost", "glade", "glitter", "grass", "haze", "hill", "king", "lake", "leaf", "meadow",
            "moon", "mountain", "night", "paper", "pine", "pond", "rain", "resonance", "rice", "river", "salad", "sea",
            "shadow", "silence", "sky", "smoke", "snow", "sound", "star", "sun", "sunset", "surf", "thunder", "tree",
            "union", "violet", "voice", "water", "wave", "wildflower", "wind", "wood",
        };
        private static readonly Random Rng = new Random();
        private const string Alnum = "abcdefghijklmnopqrstuvwxyz0123456789";

        private static string Word() { lock (Rng) return Words[Rng.Next(Words.Length)]; }
        private static string Chars(string set, int n)
        {
            var c = new char[n];
            lock (Rng) for (int i = 0; i < n; i++) c[i] = set[Rng.Next(set.Length)];
            return new string(c);
        }

        public static string Branch() => $"br-{Word()}-{Word()}-{Chars(Alnum, 8)}";
        public static string Endpoint() => $"ep-{Word()}-{Word()}-{Chars(Alnum, 8)}";
        public static string Project() => $"{Word()}-{Word()}-{Chars("0123456789", 8)}";
        public static string Hex(int n) => Chars("0123456789abcdef", n);
    }

    public static class Time
    {
        public static string Format(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        public static DateTime Seconds(DateTime t) => new DateTime(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }
}
