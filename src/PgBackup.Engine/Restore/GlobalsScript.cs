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

        /// <summary>
        /// Reads pg_dumpall's script with PgBackup's SQL lexer: each statement whole (a line may hold several, a
        /// statement several lines), only role statements kept. Meta-commands other than pg_dump's \restrict and
        /// \unrestrict, and what the lexer refuses, refuse the whole file.
        /// </summary>
        public static GlobalsScript Parse(string text)
        {
            var reader = new Reader();
            var lexer = new SqlLexer(reader);
            var bytes = new UTF8Encoding(false).GetBytes(text);
            lexer.Feed(bytes, 0, bytes.Length);
            lexer.Complete();
            if (reader.Refusal is null && lexer.Truncated is not null) reader.Refusal = $"the script is cut short: {lexer.Truncated}";
            if (reader.Refusal is not null)
                throw new PgBackupException(ErrorIds.UnsafeStatement, ErrorKind.SecurityError,
                    $"The saved roles (pg_dumpall --globals-only) cannot be used: {reader.Refusal}. They may have been changed.");
            return reader.Script;
        }

        /// <summary>Role settings that load code into every session of the role: never carried over.</summary>
        private static readonly string[] LoadingSettings = { "session_preload_libraries", "local_preload_libraries", "shared_preload_libraries" };

        private sealed class Reader : ISqlScriptHandler
        {
            public GlobalsScript Script { get; } = new GlobalsScript();
            public string? Refusal { get; set; }

            public void Statement(SqlStatement s)
            {
                var utf8 = Encoding.UTF8;
                string sql = s.Text(utf8);
                if (s.IsWords(0, "create", "role") && s.IsName(2) && s.TokenCount == 3)
                {
                    var role = s.Identifier(2, utf8);
                    Script.Roles.Add(role);
                    Script.RoleStatements.Add((role, sql));
                }
                else if (s.IsWords(0, "alter", "role") && s.IsName(2))
                {
                    // ALTER ROLE ... IN DATABASE belongs to a database that may not exist on the new server.
                    if (s.IsWords(3, "in", "database")) return;
                    if ((s.IsWord(3, "set") || s.IsWord(3, "reset")) && s.IsName(4) && Array.IndexOf(LoadingSettings, s.Identifier(4, utf8)) >= 0) return;
                    if (s.IsWord(3, "with") || s.IsWord(3, "set") || s.IsWord(3, "reset"))
                        Script.RoleStatements.Add((s.Identifier(2, utf8), sql));
                }
                else if (s.IsWords(0, "comment", "on", "role") && s.IsName(3) && s.IsWord(4, "is") && s.TokenCount == 6 &&
                         s[5].Kind is SqlTokenKind.String or SqlTokenKind.EscapeString or SqlTokenKind.DollarString)
                    Script.RoleStatements.Add((s.Identifier(3, utf8), sql));
                else if (s.IsWord(0, "grant") && s.IsName(1) && s.IsWord(2, "to") && s.IsName(3))
                {
                    // GRANT group TO member [WITH ADMIN OPTION | WITH ... TRUE] [GRANTED BY role]: nothing but names and words.
                    for (int k = 4; k < s.TokenCount; k++)
                        if (!(s[k].Kind == SqlTokenKind.Word || s[k].Kind == SqlTokenKind.QuotedIdentifier || s.IsSymbol(k, ","))) return;
                    Script.Memberships.Add((s.Identifier(1, utf8), s.Identifier(3, utf8), sql));
                }
                // Everything else (SET, tablespaces) is not carried over.
            }

            public void MetaCommand(long line, byte[] buffer, int offset, int count)
            {
                var text = Encoding.UTF8.GetString(buffer, offset, count);
                var parts = text.Split(' ');
                if (parts.Length == 2 && (parts[0] == "\\restrict" || parts[0] == "\\unrestrict") && parts[1].All(c => c < 128 && char.IsLetterOrDigit(c))) return;
                Refusal ??= $"line {line} holds the psql meta-command '{(text.Length > 40 ? text.Substring(0, 40) + "..." : text)}'";
            }

            public void CopyData(byte[] buffer, int offset, int count) { }
            public void CopyEnd(long rows) { }
            public void Refused(long line, string reason) => Refusal ??= $"line {line} holds {reason}";
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
                    try { server.ExecuteStatement(sql, ct); }
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
                try { server.ExecuteStatement(sql, ct); }
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
