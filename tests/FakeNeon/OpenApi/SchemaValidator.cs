using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FakeNeon.OpenApi
{
    /// <summary>
    /// Validates JSON against the OpenAPI 3.0 schema objects of Neon's spec: $ref, allOf, oneOf, anyOf, nullable, type,
    /// enum, required, properties, additionalProperties, items, pattern, format (date-time, uuid, int32, int64),
    /// minimum/maximum, minLength/maxLength, minItems/maxItems, maxProperties.
    /// In strict mode an object may have only the properties its schema declares (to catch a fake's typos); real
    /// answers are checked leniently, because Neon adds fields before its spec names them.
    /// </summary>
    public sealed class SchemaValidator
    {
        private readonly OpenApiSpec _spec;
        private static readonly Dictionary<string, Regex> Patterns = new Dictionary<string, Regex>();
        private static readonly Regex DateTimePattern = new Regex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$");
        private static readonly Regex UuidPattern = new Regex(@"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");

        public SchemaValidator(OpenApiSpec spec) { _spec = spec; }

        public List<string> Validate(JsonNode? value, JsonNode schema, bool strict)
        {
            var errors = new List<string>();
            Check(value, schema, "$", errors, strict);
            return errors;
        }

        /// <param name="local">false for the parts of an allOf: only the whole declares every property (strict mode).</param>
        private void Check(JsonNode? value, JsonNode schemaNode, string path, List<string> errors, bool strict, bool local = true)
        {
            var schema = _spec.Deref(schemaNode) as JsonObject;
            if (schema is null) return;

            if (value is null)
            {
                if (!IsNullable(schema)) errors.Add($"{path}: null is not allowed");
                return;
            }

            if (schema["allOf"] is JsonArray allOf)
                foreach (var sub in allOf) Check(value, sub!, path, errors, strict, local: false);
            if (schema["oneOf"] is JsonArray oneOf)
            {
                int passing = oneOf.Count(s => Validate(value, s!, false).Count == 0);
                if (passing != 1) errors.Add($"{path}: matches {passing} of the oneOf schemas (must be exactly 1)");
            }
            if (schema["anyOf"] is JsonArray anyOf && !anyOf.Any(s => Validate(value, s!, false).Count == 0))
                errors.Add($"{path}: matches none of the anyOf schemas");

            var type = schema["type"]?.GetValue<string>();
            var kind = value.GetValueKind();
            if (type is not null && !TypeMatches(type, kind, value))
            {
                errors.Add($"{path}: expected {type}, got {Describe(kind)}");
                return;
            }

            if (schema["enum"] is JsonArray en && !en.Any(e => JsonNode.DeepEquals(e, value)))
                errors.Add($"{path}: '{Short(value)}' is not one of [{string.Join(", ", en.Select(e => e?.ToJsonString()))}]");

            switch (kind)
            {
                case JsonValueKind.String: CheckString(value.GetValue<string>(), schema, path, errors); break;
                case JsonValueKind.Number: CheckNumber(value, schema, path, errors); break;
                case JsonValueKind.Array:
                    var arr = value.AsArray();
                    if (schema["minItems"] is JsonValue mi && arr.Count < Num(mi)) errors.Add($"{path}: fewer than {mi} items");
                    if (schema["maxItems"] is JsonValue ma && arr.Count > Num(ma)) errors.Add($"{path}: more than {ma} items");
                    if (schema["items"] is JsonNode items)
                        for (int i = 0; i < arr.Count; i++) Check(arr[i], items, $"{path}[{i}]", errors, strict);
                    break;
                case JsonValueKind.Object:
                    CheckObject(value.AsObject(), schema, path, errors, strict, local);
                    break;
            }
        }

        private void CheckObject(JsonObject obj, JsonObject schema, string path, List<string> errors, bool strict, bool local)
        {
            if (schema["required"] is JsonArray required)
                foreach (var r in required)
                {
                    var name = r!.GetValue<string>();
                    if (!obj.ContainsKey(name)) errors.Add($"{path}: required property '{name}' is missing");
                }
            if (schema["maxProperties"] is JsonValue mp && obj.Count > Num(mp)) errors.Add($"{path}: more than {mp} properties");
            var props = schema["properties"] as JsonObject;
            foreach (var kv in obj)
            {
                if (props?[kv.Key] is JsonNode ps) Check(kv.Value, ps, $"{path}.{kv.Key}", errors, strict);
                else if (schema["additionalProperties"] is JsonNode ap && ap.GetValueKind() == JsonValueKind.Object)
                    Check(kv.Value, ap, $"{path}.{kv.Key}", errors, strict);
                else if (schema["additionalProperties"] is JsonNode no && no.GetValueKind() == JsonValueKind.False && !Declared(schema).Contains(kv.Key))
                    errors.Add($"{path}: property '{kv.Key}' is not allowed");
            }
            if (strict && local && schema["oneOf"] is null && schema["anyOf"] is null && !AllowsAdditional(schema))
            {
                var declared = Declared(schema);
                foreach (var kv in obj)
                    if (!declared.Contains(kv.Key)) errors.Add($"{path}: property '{kv.Key}' is not in the spec (strict)");
            }
        }

        /// <summary>The properties a schema declares, through allOf.</summary>
        private HashSet<string> Declared(JsonObject schema)
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            void Add(JsonNode node)
            {
                if (_spec.Deref(node) is not JsonObject s) return;
                if (s["properties"] is JsonObject p) foreach (var kv in p) set.Add(kv.Key);
                if (s["allOf"] is JsonArray all) foreach (var x in all) Add(x!);
            }
            Add(schema);
            return set;
        }

        private bool AllowsAdditional(JsonObject schema)
        {
            if (schema["additionalProperties"] is JsonNode ap && ap.GetValueKind() != JsonValueKind.False) return true;
            if (schema["allOf"] is JsonArray all)
                foreach (var x in all)
                    if (_spec.Deref(x!) is JsonObject s && (AllowsAdditional(s) || s["oneOf"] is not null || s["anyOf"] is not null)) return true;
            return false;
        }

        private bool IsNullable(JsonObject schema)
        {
            if (schema["nullable"] is JsonValue n && n.GetValueKind() == JsonValueKind.True) return true;
            // A schema without any constraint accepts anything, null included.
            return schema.Count == 0 || (schema["type"] is null && schema["allOf"] is null && schema["oneOf"] is null && schema["anyOf"] is null
                && schema["properties"] is null && schema["enum"] is null && schema.ContainsKey("description") && schema.Count <= 2);
        }

        private static bool TypeMatches(string type, JsonValueKind kind, JsonNode value) => type switch
        {
            "object" => kind == JsonValueKind.Object,
            "array" => kind == JsonValueKind.Array,
            "string" => kind == JsonValueKind.String,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            "number" => kind == JsonValueKind.Number,
            "integer" => kind == JsonValueKind.Number && IsInteger(value),
            _ => true,
        };

        private static bool IsInteger(JsonNode value)
        {
            var text = value.ToJsonString();
            if (!text.Contains('.') && !text.Contains('e') && !text.Contains('E')) return true;
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && Math.Floor(d) == d;
        }

        private static void CheckString(string s, JsonObject schema, string path, List<string> errors)
        {
            if (schema["minLength"] is JsonValue min && s.Length < Num(min)) errors.Add($"{path}: shorter than {min}");
            if (schema["maxLength"] is JsonValue max && s.Length > Num(max)) errors.Add($"{path}: longer than {max}");
            if (schema["pattern"] is JsonValue p)
            {
                var pattern = p.GetValue<string>();
                Regex re;
                lock (Patterns)
                    if (!Patterns.TryGetValue(pattern, out re!)) Patterns[pattern] = re = new Regex(pattern, RegexOptions.ECMAScript);
                if (!re.IsMatch(s)) errors.Add($"{path}: '{s}' does not match {pattern}");
            }
            switch (schema["format"]?.GetValue<string>())
            {
                case "date-time":
                    if (!DateTimePattern.IsMatch(s) || !DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                        errors.Add($"{path}: '{s}' is not an RFC 3339 date-time");
                    break;
                case "uuid":
                    if (!UuidPattern.IsMatch(s)) errors.Add($"{path}: '{s}' is not a uuid");
                    break;
            }
        }

        private static void CheckNumber(JsonNode value, JsonObject schema, string path, List<string> errors)
        {
            var d = double.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
            if (schema["minimum"] is JsonValue min && d < Num(min)) errors.Add($"{path}: {d} is less than {min}");
            if (schema["maximum"] is JsonValue max && d > Num(max)) errors.Add($"{path}: {d} is more than {max}");
            switch (schema["format"]?.GetValue<string>())
            {
                case "int32" when d < int.MinValue || d > int.MaxValue: errors.Add($"{path}: {d} is not an int32"); break;
                case "int64" when d < long.MinValue || d > long.MaxValue: errors.Add($"{path}: {d} is not an int64"); break;
            }
        }

        private static double Num(JsonNode n) => double.Parse(n.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

        private static string Describe(JsonValueKind kind) => kind switch
        {
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => kind.ToString().ToLowerInvariant(),
        };

        private static string Short(JsonNode value)
        {
            var s = value.ToJsonString();
            return s.Length > 60 ? s.Substring(0, 60) + "..." : s;
        }
    }
}
