using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PgBackup
{
    /// <summary>The exact number of rows of one table, as contained in a backup.</summary>
    public sealed class TableRowCount
    {
        public TableRowCount() { }
        public TableRowCount(string schema, string name, long rows)
        {
            Schema = schema;
            Name = name;
            Rows = rows;
        }

        public string Schema { get; set; } = "";
        public string Name { get; set; } = "";
        public long Rows { get; set; }
        [JsonIgnore] public string QualifiedName => PgIdentifier.Qualify(Schema, Name);
        public override string ToString() => $"{QualifiedName}: {Rows}";
    }

    /// <summary>One file of a Directory-format backup.</summary>
    public sealed class BackupFileEntry
    {
        public string Name { get; set; } = "";
        public long SizeBytes { get; set; }
        public string Sha256 { get; set; } = "";
    }

    /// <summary>What part of the database a backup holds (pg_dump's selection options).</summary>
    public sealed class BackupScope
    {
        public string[]? Schemas { get; set; }
        public string[]? ExcludeSchemas { get; set; }
        public string[]? Tables { get; set; }
        public string[]? ExcludeTables { get; set; }
        public string[]? ExcludeTableData { get; set; }
        public bool SchemaOnly { get; set; }
        public bool DataOnly { get; set; }
        public bool NoOwner { get; set; }
        public bool NoPrivileges { get; set; }

        [JsonIgnore]
        public bool IsWholeDatabase =>
            (Schemas?.Length ?? 0) == 0 && (ExcludeSchemas?.Length ?? 0) == 0 && (Tables?.Length ?? 0) == 0 &&
            (ExcludeTables?.Length ?? 0) == 0 && (ExcludeTableData?.Length ?? 0) == 0 && !SchemaOnly && !DataOnly;
    }

    /// <summary>How a backup is encrypted (never a secret).</summary>
    public sealed class EncryptionInfo
    {
        /// <summary><c>Passphrase</c> or <c>PublicKey</c>.</summary>
        public string Mode { get; set; } = "";
        public string Algorithm { get; set; } = "AES256";
        /// <summary>Key ids of the recipients (hex), for public-key mode.</summary>
        public string[]? Recipients { get; set; }
    }

    /// <summary>The cluster's roles and other globals saved beside a backup (<c>pg_dumpall --globals-only</c>).</summary>
    public sealed class GlobalsInfo
    {
        public string Name { get; set; } = "";
        public long SizeBytes { get; set; }
        public string Sha256 { get; set; } = "";
        public bool WithoutPasswords { get; set; }
        public string[]? Roles { get; set; }
    }

    /// <summary>
    /// The manifest written beside every backup (<c>&lt;name&gt;.json</c>): what was backed up, from where, how, and
    /// the facts a restore or drill checks against. It never holds a password or key.
    /// </summary>
    public sealed class BackupManifest
    {
        public const int CurrentFormatVersion = 1;

        public int FormatVersion { get; set; } = CurrentFormatVersion;
        public string Tool { get; set; } = "PgBackup";
        public string ModuleVersion { get; set; } = "";
        public string Name { get; set; } = "";
        public string Database { get; set; } = "";
        public string Host { get; set; } = "";
        public int Port { get; set; }
        public string? User { get; set; }
        public string ServerVersion { get; set; } = "";
        public string PgDumpVersion { get; set; } = "";
        /// <summary>What made the backup: PgDump or Native (manifests before the native engine have none: pg_dump).</summary>
        public string? Engine { get; set; }
        public BackupFormat Format { get; set; }
        public CompressionMethod Compression { get; set; }
        public int? CompressionLevel { get; set; }
        public long SizeBytes { get; set; }
        public string Sha256 { get; set; } = "";
        public DateTime StartTime { get; set; }
        public DateTime EndTime { get; set; }
        public BackupScope Scope { get; set; } = new BackupScope();
        public List<TableRowCount> Tables { get; set; } = new List<TableRowCount>();
        public List<BackupFileEntry>? Files { get; set; }
        public EncryptionInfo? Encryption { get; set; }
        public GlobalsInfo? Globals { get; set; }

        /// <summary>The bytes this manifest was read from (what its signature covers), or null when it was made here.</summary>
        [JsonIgnore] internal byte[]? Json { get; private set; }

        private static readonly JsonSerializerOptions Options = CreateOptions();

        private static JsonSerializerOptions CreateOptions()
        {
            var o = new JsonSerializerOptions
            {
                PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
                WriteIndented = true,
                DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
                PropertyNameCaseInsensitive = true,
            };
            o.Converters.Add(new JsonStringEnumConverter());
            return o;
        }

        public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

        public string ToJson() => Encoding.UTF8.GetString(ToJsonBytes());

        /// <summary>The largest manifest PgBackup reads (a database of some 500,000 tables); anything larger is refused.</summary>
        public const int MaxBytes = 64 << 20;

        /// <summary>
        /// Reads a manifest; a <see cref="PgBackupException"/> (<c>ManifestInvalid</c>) when it is not one: not JSON,
        /// truncated, wrongly typed, missing or null fields, values out of range.
        /// </summary>
        public static BackupManifest FromJson(byte[] utf8, string source)
        {
            BackupManifest? m;
            try
            {
                m = JsonSerializer.Deserialize<BackupManifest>(utf8, Options);
            }
            catch (Exception e) when (e is JsonException || e is NotSupportedException || e is ArgumentException || e is InvalidOperationException)
            {
                throw Invalid(source, $"is not valid JSON: {e.Message}", e);
            }
            if (m is null || m.Tool != "PgBackup" || string.IsNullOrEmpty(m.Name) || m.Sha256 is null || m.Sha256.Length == 0)
                throw Invalid(source, "is not a PgBackup manifest");
            if (m.FormatVersion > CurrentFormatVersion)
                throw Invalid(source, $"has format version {m.FormatVersion}; this PgBackup reads up to {CurrentFormatVersion}. Update PgBackup");
            var problem = m.Problem();
            if (problem is not null) throw Invalid(source, problem);
            m.StartTime = DateTime.SpecifyKind(m.StartTime.ToUniversalTime(), DateTimeKind.Utc);
            m.EndTime = DateTime.SpecifyKind(m.EndTime.ToUniversalTime(), DateTimeKind.Utc);
            m.Json = utf8;
            return m;
        }

        private static PgBackupException Invalid(string source, string why, Exception? inner = null) =>
            new PgBackupException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData, $"The manifest {source} {why.TrimEnd('.')}.", source, inner);

        /// <summary>What makes a deserialized manifest unusable (a field null, of the wrong kind or out of range), or null.</summary>
        private string? Problem()
        {
            if (ModuleVersion is null || Database is null || Host is null || ServerVersion is null || PgDumpVersion is null || Scope is null || Tables is null)
                return "lacks a field every manifest has (or has it null)";
            if (!IsSha256(Sha256)) return "has a sha256 that is not 64 hexadecimal digits";
            if (SizeBytes < 0 || Port < 0 || Port > 65535) return "has a negative size or an impossible port";
            if (!Enum.IsDefined(typeof(BackupFormat), Format) || !Enum.IsDefined(typeof(CompressionMethod), Compression)) return "has an unknown format or compression";
            if (Tables.Any(t => t is null || t.Schema is null || t.Name is null)) return "has a table without schema or name";
            if (Files is not null && Files.Any(f => f is null || f.Name is null || f.SizeBytes < 0 || !IsSha256(f.Sha256)))
                return "has a file entry without name, with a negative size or without a sha256";
            if (Globals is not null && (Globals.Name is null || Globals.SizeBytes < 0 || !IsSha256(Globals.Sha256)))
                return "has a roles file (globals) without name, with a negative size or without a sha256";
            if (Encryption is not null && (Encryption.Mode is null || (Encryption.Recipients?.Any(r => r is null) ?? false)))
                return "has an encryption entry without mode";
            return null;
        }

        private static bool IsSha256(string? text) =>
            text is not null && text.Length == 64 && text.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));

        /// <summary>
        /// Reads the manifest of the backup <paramref name="dataName"/> (at most <see cref="MaxBytes"/>) and checks the
        /// names it holds: a Directory backup's file names pass the rule for names (<see cref="StoreName"/>), and the
        /// roles file is this backup's own (<c>&lt;stem&gt;.globals.sql</c>, or <c>.gpg</c>), never another file.
        /// </summary>
        public static BackupManifest Read(byte[] json, string source, string dataName)
        {
            var m = FromJson(json, source);
            m.CheckNames(dataName, source);
            return m;
        }

        /// <summary>A manifest's bytes, refused (<c>ManifestInvalid</c>) when there are more than <paramref name="limit"/>.</summary>
        public static byte[] ReadBounded(Stream stream, string source, int limit = MaxBytes) =>
            ReadOnlyStream.ReadAtMost(stream, limit) ?? throw Invalid(source, $"is larger than {limit >> 20} MiB; PgBackup does not read it");

        private void CheckNames(string dataName, string source)
        {
            foreach (var f in Files ?? new List<BackupFileEntry>())
            {
                var problem = StoreName.Problem(f.Name);
                if (problem is not null) throw StoreName.Refused(f.Name, source, "a file of the backup in its manifest: " + problem);
            }
            if (Globals is not null)
            {
                var stem = BackupNaming.Parse(dataName)?.Stem;
                if (stem is null || (Globals.Name != BackupNaming.GlobalsName(stem, false) && Globals.Name != BackupNaming.GlobalsName(stem, true)))
                    throw StoreName.Refused(Globals.Name, source,
                        $"the manifest's roles file (globals) must be {(stem is null ? "this backup's" : BackupNaming.GlobalsName(stem, false) + "(.gpg)")}, beside the backup");
            }
        }
    }
}
