using System.Text;

namespace PgBackup.Native
{
    /// <summary>Literals and option lists as pg_dump writes them (string_utils.c), for a script with standard_conforming_strings on.</summary>
    internal static class SqlText
    {
        /// <summary>A string literal: quotes doubled, backslashes as they are (standard_conforming_strings = on).</summary>
        public static string Literal(string value) => "'" + value.Replace("'", "''") + "'";

        /// <summary>
        /// reloptions (name=value items) as pg_dump's appendReloptionsArray writes them: the name as an identifier, the
        /// value bare when it reads as the same identifier, otherwise as a literal.
        /// </summary>
        public static string RelOptions(string[] options, string prefix = "")
        {
            var sb = new StringBuilder();
            foreach (var option in options)
            {
                int eq = option.IndexOf('=');
                var name = eq < 0 ? option : option.Substring(0, eq);
                var value = eq < 0 ? "" : option.Substring(eq + 1);
                if (sb.Length > 0) sb.Append(", ");
                sb.Append(prefix).Append(PgIdentifier.Quote(name)).Append('=');
                sb.Append(PgIdentifier.Quote(value) == value ? value : Literal(value));
            }
            return sb.ToString();
        }

        /// <summary>A name on a <c>--</c> comment line: line breaks become spaces (pg_dump's sanitize_line).</summary>
        public static string CommentLine(string text) => text.Replace('\n', ' ').Replace('\r', ' ');
    }
}
