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
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.TrimEnd('\r');
                if (!line.EndsWith(";", StringComparison.Ordinal)) continue;
                if (TryRole(line, "CREATE ROLE ", out var role))
                {
                    script.Roles.Add(role);
                    script.RoleStatements.Add((role, line));
                }
                else if (TryRole(line, "ALTER ROLE ", out role) || TryRole(line, "COMMENT ON ROLE ", out role))
                {
                    // ALTER ROLE ... IN DATABASE belongs to a database that may not exist on the new server.
                    if (line.IndexOf(" IN DATABASE ", StringComparison.Ordinal) < 0) script.RoleStatements.Add((role, line));
                }
                else if (line.StartsWith("GRANT ", StringComparison.Ordinal))
                {
                    int pos = 6;
                    var group = PgIdentifier.ReadIdentifier(line, ref pos);
                    if (group is null || !line.Substring(pos).StartsWith(" TO ", StringComparison.Ordinal)) continue;
                    pos += 4;
                    var member = PgIdentifier.ReadIdentifier(line, ref pos);
                    if (member is not null) script.Memberships.Add((group, member, line));
                }
            }
            return script;
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
