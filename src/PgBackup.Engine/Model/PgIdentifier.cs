using System;
using System.Collections.Generic;
using System.Text;

namespace PgBackup
{
    /// <summary>PostgreSQL identifier quoting and parsing, as pg_dump writes names.</summary>
    public static class PgIdentifier
    {
        /// <summary>Quotes an identifier unless it is a plain lower-case name (keywords are always quoted).</summary>
        public static string Quote(string identifier)
        {
            bool plain = identifier.Length > 0 && (identifier[0] == '_' || (identifier[0] >= 'a' && identifier[0] <= 'z'));
            foreach (char c in identifier)
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) { plain = false; break; }
            if (plain && !ReservedWords.Contains(identifier)) return identifier;
            return "\"" + identifier.Replace("\"", "\"\"") + "\"";
        }

        public static string Qualify(string schema, string name) => Quote(schema) + "." + Quote(name);

        /// <summary>
        /// A string literal by quote_literal's rules: quotes doubled, and when there is a backslash, backslashes
        /// doubled and the E'' form, so that the value is the same whatever standard_conforming_strings says.
        /// </summary>
        public static string Literal(string value)
        {
            bool backslash = value.IndexOf('\\') >= 0;
            var escaped = value.Replace("'", "''");
            return backslash ? "E'" + escaped.Replace("\\", "\\\\") + "'" : "'" + escaped + "'";
        }

        /// <summary>
        /// Reads one identifier at <paramref name="pos"/> (quoted or not) and advances past it; returns null if there
        /// is none. Unquoted identifiers are folded to lower case, as the server does.
        /// </summary>
        public static string? ReadIdentifier(string text, ref int pos)
        {
            if (pos >= text.Length) return null;
            if (text[pos] == '"')
            {
                var sb = new StringBuilder();
                int i = pos + 1;
                while (i < text.Length)
                {
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        pos = i + 1;
                        return sb.ToString();
                    }
                    sb.Append(text[i++]);
                }
                return null;
            }
            int start = pos;
            while (pos < text.Length && (char.IsLetterOrDigit(text[pos]) || text[pos] == '_' || text[pos] == '$' || text[pos] > 127)) pos++;
            return pos > start ? text.Substring(start, pos - start).ToLowerInvariant() : null;
        }

        /// <summary>Parses <c>schema.name</c> (each part quoted or not).</summary>
        /// <summary>A name as a pg_dump pattern that matches it alone: double-quoted (wildcards and case kept), quotes doubled.</summary>
        public static string QuoteAsPattern(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

        public static bool TryParseQualified(string text, out string schema, out string name)
        {
            schema = name = "";
            int pos = 0;
            var first = ReadIdentifier(text, ref pos);
            if (first is null) return false;
            if (pos < text.Length && text[pos] == '.')
            {
                pos++;
                var second = ReadIdentifier(text, ref pos);
                if (second is null) return false;
                schema = first;
                name = second;
                return pos == text.Length;
            }
            schema = "public";
            name = first;
            return pos == text.Length;
        }

        // Keywords that pg_dump and quote_ident quote (reserved, type/function-name and column-name keywords).
        private static readonly HashSet<string> ReservedWords = new HashSet<string>(StringComparer.Ordinal)
        {
            "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between", "bigint",
            "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check", "coalesce", "collate", "collation",
            "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
            "current_schema", "current_time", "current_timestamp", "current_user", "dec", "decimal", "default", "deferrable",
            "desc", "distinct", "do", "else", "end", "except", "exists", "extract", "false", "fetch", "float", "for", "foreign",
            "freeze", "from", "full", "grant", "greatest", "group", "grouping", "having", "ilike", "in", "initially", "inner",
            "inout", "int", "integer", "intersect", "interval", "into", "is", "isnull", "join", "json", "json_array",
            "json_arrayagg", "json_exists", "json_object", "json_objectagg", "json_query", "json_scalar", "json_serialize",
            "json_table", "json_value", "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp",
            "merge_action", "national", "natural", "nchar", "none", "normalize", "not", "notnull", "null", "nullif", "numeric",
            "offset", "on", "only", "or", "order", "out", "outer", "overlaps", "overlay", "placing", "position", "precision",
            "primary", "real", "references", "returning", "right", "row", "select", "session_user", "setof", "similar",
            "smallint", "some", "substring", "symmetric", "system_user", "table", "tablesample", "then", "time", "timestamp",
            "to", "trailing", "treat", "trim", "true", "union", "unique", "user", "using", "values", "varchar", "variadic",
            "verbose", "when", "where", "window", "with", "xmlattributes", "xmlconcat", "xmlelement", "xmlexists", "xmlforest",
            "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot", "xmlserialize", "xmltable",
        };
    }
}
