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

        /// <summary>Reads a manifest; a <see cref="PgBackupException"/> (<c>ManifestInvalid</c>) when it is not one.</summary>
        public static BackupManifest FromJson(byte[] utf8, string source)
        {
            BackupManifest? m;
            try
            {
                m = JsonSerializer.Deserialize<BackupManifest>(utf8, Options);
            }
            catch (JsonException e)
            {
                throw new PgBackupException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData, $"The manifest {source} is not valid JSON: {e.Message}", source, e);
            }
            if (m is null || m.Tool != "PgBackup" || string.IsNullOrEmpty(m.Name) || string.IsNullOrEmpty(m.Sha256))
                throw new PgBackupException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData, $"{source} is not a PgBackup manifest.", source);
            if (m.FormatVersion > CurrentFormatVersion)
                throw new PgBackupException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData,
                    $"The manifest {source} has format version {m.FormatVersion}; this PgBackup reads up to {CurrentFormatVersion}. Update PgBackup.", source);
            m.StartTime = DateTime.SpecifyKind(m.StartTime.ToUniversalTime(), DateTimeKind.Utc);
            m.EndTime = DateTime.SpecifyKind(m.EndTime.ToUniversalTime(), DateTimeKind.Utc);
            return m;
        }

        public static BackupManifest Read(Stream stream, string source)
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            return FromJson(ms.ToArray(), source);
        }
    }
}
