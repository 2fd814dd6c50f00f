using System;
using System.Collections.Generic;
using System.Text;
using Npgsql;

namespace PgBackup
{
    /// <summary>
    /// How PgBackup reads what PostgreSQL and its tools say, whatever their language. EDB's Windows installer sets a
    /// server's <c>lc_messages</c> to the machine's language ("FEHLER:", "Sperre"), and a user's <c>LC_ALL</c> or
    /// Windows display language can translate the tools' own messages:
    /// <list type="bullet">
    /// <item>Npgsql's errors are classified by SQLSTATE (<see cref="SqlState"/>), never by text.</item>
    /// <item>The tools' own messages are forced to English (<see cref="ApplyChildLocale"/>): LC_MESSAGES=C, with an
    /// LC_ALL that would override it moved to LANG; LANGUAGE is ignored by gettext under C.</item>
    /// <item>Server messages that the tools relay (pg_dump's "query failed: ERROR: ... lock timeout"; pg_dump and
    /// pg_restore cannot print a SQLSTATE) are asked for in English through the connection's <c>options</c>
    /// (<c>-c lc_messages=C</c>) when the server's are not English and the role may set lc_messages (superusers, or
    /// GRANT SET ON PARAMETER on PostgreSQL 15+): <see cref="ChildOptions"/>.</item>
    /// <item>The tools' stderr is read as UTF-8 (<see cref="StderrEncoding"/>): relayed server text is in the
    /// client encoding (the database's, UTF8), not the console's OEM code page.</item>
    /// </list>
    /// </summary>
    public static class ServerMessages
    {
        public const string EnglishOption = "-c lc_messages=C";

        /// <summary>Stderr of pg_dump, pg_restore and pg_dumpall.</summary>
        public static readonly Encoding StderrEncoding = new UTF8Encoding(false);

        /// <summary>The SQLSTATE of the PostgreSQL error in <paramref name="e"/>'s chain, or null.</summary>
        public static string? SqlState(Exception? e)
        {
            for (var x = e; x is not null; x = x.InnerException)
                if (x is PostgresException pg) return pg.SqlState;
            return null;
        }

        /// <summary>
        /// Whether a server whose lc_messages is <paramref name="lcMessages"/> surely speaks English: C, POSIX, en_US.UTF-8,
        /// English_United States.1252. Not C.UTF-8: gettext then follows the server's LANGUAGE variable.
        /// </summary>
        public static bool IsEnglish(string? lcMessages)
        {
            var v = (lcMessages ?? "").Trim();
            return v == "C" || v == "POSIX" || v.Equals("en", StringComparison.OrdinalIgnoreCase)
                || v.StartsWith("en_", StringComparison.OrdinalIgnoreCase) || v.StartsWith("en-", StringComparison.OrdinalIgnoreCase)
                || v.StartsWith("English", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>
        /// The libpq <c>options</c> the child tools should connect with: <paramref name="existing"/> (the connection
        /// string's, else PGOPTIONS) plus <see cref="EnglishOption"/> when the server is not English and the role may
        /// set lc_messages; null when nothing changes.
        /// </summary>
        public static string? ChildOptions(string? existing, string? serverLcMessages, bool canSetLcMessages)
        {
            if (IsEnglish(serverLcMessages) || !canSetLcMessages) return null;
            if (existing is not null && existing.IndexOf("lc_messages", StringComparison.OrdinalIgnoreCase) >= 0) return null;
            return string.IsNullOrWhiteSpace(existing) ? EnglishOption : existing!.Trim() + " " + EnglishOption;
        }

        /// <summary>
        /// Makes the tools' own messages English in a child's environment (ProcessStartInfo.Environment): LC_MESSAGES=C;
        /// LC_ALL, which would win over it, is removed and its value kept for the other categories as LANG.
        /// </summary>
        public static void ApplyChildLocale(IDictionary<string, string?> environment)
        {
            if (environment.TryGetValue("LC_ALL", out var all))
            {
                environment.Remove("LC_ALL");
                if (!string.IsNullOrEmpty(all)) environment["LANG"] = all;
            }
            environment["LC_MESSAGES"] = "C";
        }

        /// <summary>
        /// Whether a line of pg_restore's stderr reports an error. pg_restore 12+ prefixes every error with its own
        /// "pg_restore: error: " (English under <see cref="ApplyChildLocale"/>, whatever the server's language);
        /// "ERROR:"/"FATAL:" cover a relayed server message in English.
        /// </summary>
        public static bool IsToolErrorLine(string line) =>
            line.IndexOf(" error: ", StringComparison.Ordinal) >= 0 || line.StartsWith("error: ", StringComparison.Ordinal) ||
            line.IndexOf("ERROR:", StringComparison.Ordinal) >= 0 || line.IndexOf("FATAL:", StringComparison.Ordinal) >= 0;
    }
}
