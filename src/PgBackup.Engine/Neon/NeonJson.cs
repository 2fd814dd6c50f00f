using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PgBackup
{
    // The parts of Neon's API v2 objects that PgBackup reads. Unknown fields are ignored; enum-like values (states,
    // operation actions and statuses) stay strings, so that values newer than the spec do not break parsing.

    internal sealed class NeonBranchJson
    {
        public string Id { get; set; } = "";
        public string ProjectId { get; set; } = "";
        public string? ParentId { get; set; }
        public string? ParentLsn { get; set; }
        public DateTime? ParentTimestamp { get; set; }
        public string Name { get; set; } = "";
        public string? CurrentState { get; set; }
        public string? PendingState { get; set; }
        public DateTime? StateChangedAt { get; set; }
        public long? LogicalSize { get; set; }
        public bool Default { get; set; }
        public bool? Primary { get; set; }
        public bool Protected { get; set; }
        public DateTime? CreatedAt { get; set; }
        public DateTime? UpdatedAt { get; set; }
        public DateTime? ExpiresAt { get; set; }
        public string? RestoredFrom { get; set; }
        public string? InitSource { get; set; }

        /// <summary>Neon's "default" replaced "primary"; old answers have only the latter.</summary>
        public bool IsDefault => Default || (Primary ?? false);
    }

    internal sealed class NeonOperationJson
    {
        public string Id { get; set; } = "";
        public string? ProjectId { get; set; }
        public string? BranchId { get; set; }
        public string? EndpointId { get; set; }
        public string Action { get; set; } = "";
        public string Status { get; set; } = "";
        public string? Error { get; set; }
        public int? FailuresCount { get; set; }
        public DateTime? CreatedAt { get; set; }
        public DateTime? UpdatedAt { get; set; }
    }

    internal sealed class NeonProjectJson
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string? RegionId { get; set; }
        public string? OrgId { get; set; }
        public DateTime? CreatedAt { get; set; }
    }

    internal sealed class NeonEndpointJson
    {
        public string Id { get; set; } = "";
        public string? Host { get; set; }
        public string ProjectId { get; set; } = "";
        public string BranchId { get; set; } = "";
        public string? Type { get; set; }
        public string? RegionId { get; set; }
    }

    internal sealed class NeonOrganizationJson
    {
        public string Id { get; set; } = "";
        public string? Name { get; set; }
    }

    internal sealed class NeonErrorJson
    {
        public string? Code { get; set; }
        public string? Message { get; set; }
        public string? RequestId { get; set; }
    }

    internal sealed class NeonCursorPagination
    {
        public string? Next { get; set; }
        public string? Cursor { get; set; }
    }

    internal sealed class NeonBranchesPage
    {
        public List<NeonBranchJson> Branches { get; set; } = new List<NeonBranchJson>();
        public NeonCursorPagination? Pagination { get; set; }
    }

    internal sealed class NeonProjectsPage
    {
        public List<NeonProjectJson> Projects { get; set; } = new List<NeonProjectJson>();
        public NeonCursorPagination? Pagination { get; set; }
        public List<string>? UnavailableProjectIds { get; set; }
    }

    internal sealed class NeonEndpointsBody
    {
        public List<NeonEndpointJson> Endpoints { get; set; } = new List<NeonEndpointJson>();
    }

    internal sealed class NeonOrganizationsBody
    {
        public List<NeonOrganizationJson> Organizations { get; set; } = new List<NeonOrganizationJson>();
    }

    /// <summary>The body of a mutation: a branch and the operations Neon scheduled for it.</summary>
    internal sealed class NeonBranchOperationsBody
    {
        public NeonBranchJson? Branch { get; set; }
        public List<NeonOperationJson> Operations { get; set; } = new List<NeonOperationJson>();
        public List<NeonEndpointJson>? Endpoints { get; set; }
    }

    internal sealed class NeonBranchBody
    {
        public NeonBranchJson? Branch { get; set; }
    }

    internal sealed class NeonOperationBody
    {
        public NeonOperationJson? Operation { get; set; }
    }

    internal static class NeonJson
    {
        public static readonly JsonSerializerOptions Options = Create();

        private static JsonSerializerOptions Create()
        {
            var o = new JsonSerializerOptions
            {
                PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
                PropertyNameCaseInsensitive = true,
                NumberHandling = JsonNumberHandling.AllowReadingFromString,
                DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
                ReadCommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            };
            o.Converters.Add(new TolerantDateTimeConverter());
            o.Converters.Add(new TolerantBooleanConverter());
            return o;
        }

        public static T Parse<T>(string json) where T : class =>
            JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException("The body is JSON null.");

        public static string Serialize(object value) => JsonSerializer.Serialize(value, value.GetType(), Options);

        /// <summary>RFC 3339 with 'Z', second precision: how Neon writes times.</summary>
        public static string FormatTime(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Reads RFC 3339 times as UTC; a value that is not a time reads as null instead of failing the answer.</summary>
    internal sealed class TolerantDateTimeConverter : JsonConverter<DateTime?>
    {
        public override DateTime? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String) { reader.Skip(); return null; }
            var text = reader.GetString();
            return DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)
                ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : (DateTime?)null;
        }

        public override void Write(Utf8JsonWriter writer, DateTime? value, JsonSerializerOptions options)
        {
            if (value is null) writer.WriteNullValue(); else writer.WriteStringValue(NeonJson.FormatTime(value.Value));
        }
    }

    /// <summary>Reads true/false, and treats anything else (null, a string) as false.</summary>
    internal sealed class TolerantBooleanConverter : JsonConverter<bool>
    {
        public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.True: return true;
                case JsonTokenType.False: return false;
                case JsonTokenType.String: return string.Equals(reader.GetString(), "true", StringComparison.OrdinalIgnoreCase);
                default: reader.Skip(); return false;
            }
        }

        public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
    }
}
