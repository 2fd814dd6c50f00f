using System;
using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;

namespace PgBackup.Native
{
    /// <summary>
    /// A name pattern as pg_dump's -n/-t read it (processSQLNamePattern in PostgreSQL's fe_utils): <c>*</c> and
    /// <c>?</c> are wildcards, unquoted letters fold to lower case, double quotes keep case and wildcards literal, a dot
    /// separates the schema from the name. Matched here against the catalog's names, so no pattern text reaches SQL.
    /// </summary>
    internal sealed class NamePattern
    {
        private NamePattern(string text, Regex? schema, Regex name)
        {
            Text = text;
            Schema = schema;
            Name = name;
        }

        public string Text { get; }
        /// <summary>Null when the pattern names no schema (it then matches what the search path makes visible).</summary>
        public Regex? Schema { get; }
        public Regex Name { get; }

        /// <summary>A schema pattern (-Schema, -ExcludeSchema): one part.</summary>
        public static NamePattern ForSchema(string pattern)
        {
            var parts = Split(pattern);
            if (parts.Count != 1) throw Invalid(pattern, "a schema name has no dot outside double quotes");
            return new NamePattern(pattern, null, parts[0]);
        }

        /// <summary>A relation pattern (-Table, -ExcludeTable, -ExcludeTableData): [schema.]name.</summary>
        public static NamePattern ForRelation(string pattern)
        {
            var parts = Split(pattern);
            if (parts.Count > 2) throw Invalid(pattern, "too many dotted names (at most schema.table; a database name is not allowed)");
            return parts.Count == 2 ? new NamePattern(pattern, parts[0], parts[1]) : new NamePattern(pattern, null, parts[0]);
        }

        public bool MatchesSchema(string name) => Name.IsMatch(name);

        public bool MatchesRelation(string schema, string name, bool visible) =>
            Name.IsMatch(name) && (Schema is null ? visible : Schema.IsMatch(schema));

        private static PgBackupException Invalid(string pattern, string why) =>
            new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"The name pattern '{pattern}' is not valid: {why}.", pattern);

        private static List<Regex> Split(string pattern)
        {
            var parts = new List<Regex>();
            var sb = new StringBuilder("^(?:");
            bool quoted = false;
            for (int i = 0; i < pattern.Length; i++)
            {
                char c = pattern[i];
                if (c == '"')
                {
                    if (quoted && i + 1 < pattern.Length && pattern[i + 1] == '"')
                    {
                        sb.Append('"');
                        i++;
                    }
                    else quoted = !quoted;
                }
                else if (quoted) sb.Append(Regex.Escape(c.ToString()));
                else if (c == '.')
                {
                    sb.Append(")$");
                    parts.Add(new Regex(sb.ToString(), RegexOptions.CultureInvariant));
                    sb.Clear().Append("^(?:");
                }
                else if (c == '*') sb.Append(".*");
                else if (c == '?') sb.Append('.');
                else sb.Append(Regex.Escape(char.ToLowerInvariant(c).ToString()));
            }
            if (quoted) throw Invalid(pattern, "a double quote is not closed");
            sb.Append(")$");
            parts.Add(new Regex(sb.ToString(), RegexOptions.CultureInvariant));
            return parts;
        }
    }
}
