using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;

namespace PgBackup
{
    /// <summary>
    /// The roles part of <c>pg_dumpall --globals-only</c>'s script: which roles it defines, the statements for each
    /// (CREATE ROLE, ALTER ROLE ... WITH/SET, COMMENT ON ROLE), and the role memberships (GRANT role TO role).
    /// Tablespaces and anything else are left out: a restore to another server creates only missing roles.
    /// </summary>
    public sealed class GlobalsScript
    {
        public List<string> Roles { get; } = new List<string>();
        public List<(string Role, string Sql)> RoleStatements { get; } = new List<(string, string)>();
        public List<(string Group, string Member, string Sql)> Memberships { get; } = new List<(string, string, string)>();

        public static GlobalsScript Parse(string text)
        {
            var script = new GlobalsScript();
            foreach (var statement in Statements(text))
            {
                if (TryRole(statement, "CREATE ROLE ", out var role))
                {
                    script.Roles.Add(role);
                    script.RoleStatements.Add((role, statement));
                }
                else if (TryRole(statement, "ALTER ROLE ", out role) || TryRole(statement, "COMMENT ON ROLE ", out role))
                {
                    // ALTER ROLE ... IN DATABASE belongs to a database that may not exist on the new server.
                    if (statement.IndexOf(" IN DATABASE ", StringComparison.Ordinal) < 0) script.RoleStatements.Add((role, statement));
                }
                else if (statement.StartsWith("GRANT ", StringComparison.Ordinal))
                {
                    int pos = 6;
                    var group = PgIdentifier.ReadIdentifier(statement, ref pos);
                    if (group is null || !statement.Substring(pos).StartsWith(" TO ", StringComparison.Ordinal)) continue;
                    pos += 4;
                    var member = PgIdentifier.ReadIdentifier(statement, ref pos);
                    if (member is not null) script.Memberships.Add((group, member, statement));
                }
            }
            return script;
        }

        /// <summary>
        /// The script's SQL statements, each ending with its ';', split as the server's lexer would: a ';' or a line
        /// inside a string literal, a quoted name, a dollar-quoted string or a comment does not end or start anything.
        /// (A role's setting or comment may hold lines that read like statements; pg_dumpall writes it as one literal.)
        /// Comments and psql's backslash lines (\restrict) are left out.
        /// </summary>
        internal static IEnumerable<string> Statements(string text)
        {
            var sb = new StringBuilder();
            int i = 0;
            while (i < text.Length)
            {
                char c = text[i];
                if (c == '-' && At(text, i, "--")) { while (i < text.Length && text[i] != '\n') i++; continue; }
                if (c == '/' && At(text, i, "/*"))
                {
                    int depth = 0;
                    do
                    {
                        if (At(text, i, "/*")) { depth++; i += 2; }
                        else if (At(text, i, "*/")) { depth--; i += 2; }
                        else i++;
                    } while (depth > 0 && i < text.Length);
                    sb.Append(' ');
                    continue;
                }
                if (c == '\\' && sb.ToString().Trim().Length == 0) { while (i < text.Length && text[i] != '\n') i++; continue; }
                if (c == ';')
                {
                    var statement = sb.Append(';').ToString().Trim();
                    sb.Clear();
                    i++;
                    if (statement != ";") yield return statement;
                    continue;
                }
                int end = c switch
                {
                    '\'' => QuotedEnd(text, i, '\'', backslashEscapes: i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e') && (i < 2 || !IsIdentifierChar(text[i - 2]))),
                    '"' => QuotedEnd(text, i, '"', backslashEscapes: false),
                    '$' => DollarQuotedEnd(text, i),
                    _ => i + 1,
                };
                sb.Append(text, i, end - i);
                i = end;
            }
            if (sb.ToString().Trim().Length > 0) yield return sb.ToString().Trim();
        }

        private static bool At(string text, int i, string what) => string.CompareOrdinal(text, i, what, 0, what.Length) == 0;

        private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c == '_' || c == '$';

        /// <summary>Where a literal or quoted name that starts at <paramref name="start"/> ends (after its closing quote; the text's end if none).</summary>
        private static int QuotedEnd(string text, int start, char quote, bool backslashEscapes)
        {
            int i = start + 1;
            while (i < text.Length)
            {
                if (backslashEscapes && text[i] == '\\') { i += 2; continue; }
                if (text[i] == quote)
                {
                    if (i + 1 < text.Length && text[i + 1] == quote) { i += 2; continue; }
                    return i + 1;
                }
                i++;
            }
            return text.Length;
        }

        /// <summary>Where a dollar-quoted string ($tag$...$tag$) that starts at <paramref name="start"/> ends, or start + 1 when it is not one.</summary>
        private static int DollarQuotedEnd(string text, int start)
        {
            if (start > 0 && IsIdentifierChar(text[start - 1])) return start + 1; // part of a name ($ inside identifiers)
            int close = text.IndexOf('$', start + 1);
            if (close < 0) return start + 1;
            var tag = text.Substring(start, close - start + 1);
            for (int k = 1; k < tag.Length - 1; k++)
                if (!(char.IsLetter(tag[k]) || tag[k] == '_' || (k > 1 && char.IsDigit(tag[k])))) return start + 1;
            int end = text.IndexOf(tag, close + 1, StringComparison.Ordinal);
            return end < 0 ? text.Length : end + tag.Length;
        }

        private static bool TryRole(string line, string prefix, out string role)
        {
            role = "";
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) return false;
            int pos = prefix.Length;
            var id = PgIdentifier.ReadIdentifier(line, ref pos);
            if (id is null) return false;
            role = id;
            return true;
        }

        /// <summary>
        /// Creates the roles of this script that <paramref name="server"/> lacks (with their attributes, settings and
        /// comments), then the memberships that involve them. Returns the roles created.
        /// </summary>
        public List<string> CreateMissingRoles(PgServer server, IOperationLog log, CancellationToken ct)
        {
            var existing = new HashSet<string>(server.Query("SELECT rolname FROM pg_roles", ct).Select(r => (string)r[0]!), StringComparer.Ordinal);
            var created = new List<string>();
            foreach (var role in Roles.Where(r => !existing.Contains(r)))
            {
                foreach (var (_, sql) in RoleStatements.Where(s => s.Role == role))
                {
                    try { server.Execute(sql, ct); }
                    catch (PgBackupException e)
                    {
                        throw new PgBackupException(ErrorIds.RoleCreationFailed, ErrorKind.PermissionDenied,
                            $"Could not create the role '{role}' ({Redact(sql)}): {e.Message}", role, e)
                        { RecommendedAction = "Create the roles as a superuser, or restore with -NoOwner -NoPrivileges." };
                    }
                }
                created.Add(role);
                log.Verbose($"Created the role '{role}'.");
            }
            var now = new HashSet<string>(existing.Concat(created), StringComparer.Ordinal);
            foreach (var (group, member, sql) in Memberships)
            {
                if (!(created.Contains(group) || created.Contains(member)) || !now.Contains(group) || !now.Contains(member)) continue;
                try { server.Execute(sql, ct); }
                catch (PgBackupException e) { log.Warning($"Could not grant '{group}' to '{member}': {e.Message}"); }
            }
            return created;
        }

        private static string Redact(string sql)
        {
            int p = sql.IndexOf(" PASSWORD '", StringComparison.Ordinal);
            return p < 0 ? sql : sql.Substring(0, p) + " PASSWORD '********';";
        }

        /// <summary>Reads a backup's globals file (decrypting it like the backup) and checks it against the manifest.</summary>
        public static GlobalsScript Load(BackupSource source, CancellationToken ct)
        {
            var g = source.Manifest?.Globals
                ?? throw new PgBackupException(ErrorIds.ManifestMissing, ErrorKind.ObjectNotFound,
                    $"{source.Name} has no saved roles: make backups with New-PgBackup -Globals to restore roles.", source.Path);
            using var stored = new HashingReadStream(source.Store.OpenRead(g.Name, ct));
            Stream plain = g.Name.EndsWith(BackupNaming.EncryptedSuffix, StringComparison.Ordinal)
                ? OpenPgp.CreateDecryptor(new NonDisposingReadStream(stored), source.Decryption, source.Store.GetPath(g.Name))
                : new NonDisposingReadStream(stored);
            string text;
            using (plain)
            using (var reader = new StreamReader(plain, new UTF8Encoding(false)))
                text = reader.ReadToEnd();
            stored.ReadToEnd();
            if (!string.Equals(stored.HashHex, g.Sha256, StringComparison.OrdinalIgnoreCase))
                throw new PgBackupException(ErrorIds.BackupChecksumMismatch, ErrorKind.InvalidData,
                    $"{source.Store.GetPath(g.Name)} differs from the manifest's SHA-256.", source.Path);
            return Parse(text);
        }
    }
}
