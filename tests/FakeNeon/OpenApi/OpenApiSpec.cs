using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace FakeNeon.OpenApi
{
    /// <summary>
    /// Neon's OpenAPI 3.0 document, loaded from its YAML as JSON nodes, with lookups of the request and response
    /// schemas of an operation (path template + method + status).
    /// </summary>
    public sealed class OpenApiSpec
    {
        public OpenApiSpec(JsonObject root) { Root = root; }

        public JsonObject Root { get; }

        public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "spec", "public-v2-for-users.gen.yaml");

        public static OpenApiSpec Load(string? path = null)
        {
            using var reader = new StreamReader(path ?? DefaultPath);
            var yaml = new YamlStream();
            yaml.Load(reader);
            var node = ToJson(yaml.Documents[0].RootNode) as JsonObject ?? throw new InvalidDataException("The spec is not a mapping.");
            return new OpenApiSpec(node);
        }

        private static readonly Regex Int = new Regex(@"^[-+]?[0-9]+$");
        private static readonly Regex Float = new Regex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$");

        /// <summary>YAML 1.2 core schema to JSON: plain scalars may be null, booleans or numbers; quoted ones are strings.</summary>
        public static JsonNode? ToJson(YamlNode node)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    var o = new JsonObject();
                    foreach (var kv in map.Children)
                        o[((YamlScalarNode)kv.Key).Value ?? ""] = ToJson(kv.Value);
                    return o;
                case YamlSequenceNode seq:
                    var a = new JsonArray();
                    foreach (var item in seq.Children) a.Add(ToJson(item));
                    return a;
                case YamlScalarNode s:
                    var v = s.Value ?? "";
                    if (s.Style is YamlDotNet.Core.ScalarStyle.Plain)
                    {
                        if (v is "" or "~" or "null" or "Null" or "NULL") return null;
                        if (v is "true" or "True" or "TRUE") return JsonValue.Create(true);
                        if (v is "false" or "False" or "FALSE") return JsonValue.Create(false);
                        if (Int.IsMatch(v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
                        if (Float.IsMatch(v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
                    }
                    return JsonValue.Create(v);
                default:
                    throw new InvalidDataException($"Unsupported YAML node {node.NodeType}.");
            }
        }

        public JsonObject Paths => (JsonObject)Root["paths"]!;

        /// <summary>Resolves a local $ref (<c>#/components/schemas/X</c>).</summary>
        public JsonNode Resolve(string reference)
        {
            if (!reference.StartsWith("#/", StringComparison.Ordinal)) throw new NotSupportedException($"Only local $refs: {reference}");
            JsonNode? n = Root;
            foreach (var part in reference.Substring(2).Split('/'))
                n = n?[part.Replace("~1", "/").Replace("~0", "~")];
            return n ?? throw new KeyNotFoundException($"Unresolved $ref {reference}");
        }

        public JsonNode Deref(JsonNode node)
        {
            while (node is JsonObject o && o["$ref"] is JsonValue r) node = Resolve(r.GetValue<string>());
            return node;
        }

        public JsonObject Operation(string template, string method) =>
            Paths[template]?[method.ToLowerInvariant()] as JsonObject ?? throw new KeyNotFoundException($"The spec has no {method} {template}.");

        public bool HasOperation(string template, string method) => Paths[template]?[method.ToLowerInvariant()] is JsonObject;

        /// <summary>The JSON schema of the response, or null when the status has no body in the spec (e.g. 204).</summary>
        public JsonNode? ResponseSchema(string template, string method, int status, out string matched)
        {
            var responses = (JsonObject)Operation(template, method)["responses"]!;
            var key = status.ToString(CultureInfo.InvariantCulture);
            var resp = responses[key];
            matched = key;
            if (resp is null) { resp = responses["default"]; matched = "default"; }
            if (resp is null) throw new KeyNotFoundException($"The spec has no {status} (nor default) response for {method} {template}.");
            resp = Deref(resp);
            return resp["content"]?["application/json"]?["schema"];
        }

        public JsonNode? RequestSchema(string template, string method)
        {
            var body = Operation(template, method)["requestBody"];
            if (body is null) return null;
            return Deref(body)["content"]?["application/json"]?["schema"];
        }

        public bool RequestBodyRequired(string template, string method)
        {
            var body = Operation(template, method)["requestBody"];
            return body is not null && Deref(body)["required"] is JsonValue v && v.GetValue<bool>();
        }

        /// <summary>The path template of the spec that a concrete path matches (<c>/projects/{project_id}/...</c>).</summary>
        public string? MatchTemplate(string path)
        {
            var segments = path.Trim('/').Split('/');
            string? best = null;
            int bestLiterals = -1;
            foreach (var kv in Paths)
            {
                var t = kv.Key.Trim('/').Split('/');
                if (t.Length != segments.Length) continue;
                int literals = 0;
                bool ok = true;
                for (int i = 0; i < t.Length && ok; i++)
                {
                    if (t[i].StartsWith("{", StringComparison.Ordinal)) continue;
                    if (t[i] == segments[i]) literals++; else ok = false;
                }
                if (ok && literals > bestLiterals) { best = kv.Key; bestLiterals = literals; }
            }
            return best;
        }
    }
}
