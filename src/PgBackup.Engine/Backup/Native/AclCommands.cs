using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace PgBackup.Native
{
    /// <summary>
    /// GRANT and REVOKE statements for an object's ACL, as pg_dump's buildACLCommands (dumputils.c) writes them: the
    /// aclitems the catalog holds are compared with the object's base ACL (acldefault, or its initial privileges),
    /// base items no longer present are revoked, new items granted (the owner's own first), and a grant made by
    /// someone other than the owner is made as that role (SET SESSION AUTHORIZATION ... RESET).
    /// </summary>
    internal static class AclCommands
    {
        private sealed class AclItem
        {
            public string Grantee = "";
            public string Grantor = "";
            public string Privileges = "";
        }

        /// <param name="type">TABLE, SEQUENCE, FUNCTION, PROCEDURE, SCHEMA, TYPE, LARGE OBJECT; or TABLES, SEQUENCES, FUNCTIONS, TYPES, SCHEMAS, LARGE OBJECTS (default privileges)</param>
        /// <param name="name">The object as the statement names it (quoted, qualified), or "" for default privileges.</param>
        /// <param name="column">A column (quoted) for column privileges.</param>
        /// <param name="prefix">"ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] " for default privileges.</param>
        public static string Build(string type, string name, string? column, Acl acl, string? owner, string prefix = "")
        {
            if (acl.Items is null) return "";
            var items = acl.Items;
            var baseItems = acl.BaseItems;
            var grants = items.Where(i => !baseItems.Contains(i)).ToList();
            var revokes = baseItems.Where(b => !items.Contains(b)).ToList();
            var first = new StringBuilder();
            var second = new StringBuilder();
            var target = name + " "; // pg_dump's " ON %s %s FROM": default privileges (no name) get two spaces
            foreach (var text in revokes)
            {
                var item = Parse(text);
                if (item is null) continue;
                var (privs, _) = Privileges(item.Privileges, type, column);
                if (privs.Length == 0) continue;
                first.Append(prefix).Append("REVOKE ").Append(privs).Append(" ON ").Append(type).Append(' ').Append(target)
                     .Append("FROM ").Append(Grantee(item.Grantee)).Append(";\n");
            }
            foreach (var text in grants)
            {
                var item = Parse(text);
                if (item is null) continue;
                var (privs, withGrant) = Privileges(item.Privileges, type, column);
                if (privs.Length == 0 && withGrant.Length == 0) continue;
                var grantor = item.Grantor.Length == 0 && owner is not null ? owner : item.Grantor;
                var sql = owner is not null && item.Grantee == owner && grantor == owner ? first : second;
                bool asGrantor = grantor.Length > 0 && grantor != owner;
                if (asGrantor) sql.Append("SET SESSION AUTHORIZATION ").Append(PgIdentifier.Quote(grantor)).Append(";\n");
                if (privs.Length > 0)
                    sql.Append(prefix).Append("GRANT ").Append(privs).Append(" ON ").Append(type).Append(' ').Append(target)
                       .Append("TO ").Append(Grantee(item.Grantee)).Append(";\n");
                if (withGrant.Length > 0)
                    sql.Append(prefix).Append("GRANT ").Append(withGrant).Append(" ON ").Append(type).Append(' ').Append(target)
                       .Append("TO ").Append(Grantee(item.Grantee)).Append(" WITH GRANT OPTION;\n");
                if (asGrantor) sql.Append("RESET SESSION AUTHORIZATION;\n");
            }
            return first.Append(second).ToString();
        }

        private static string Grantee(string role) => role.Length == 0 ? "PUBLIC" : PgIdentifier.Quote(role);

        /// <summary>The letters of a privilege set, as pg_dump's parseAclItem turns them into keywords.</summary>
        private static (string Privileges, string WithGrant) Privileges(string codes, string type, string? column)
        {
            var plain = new List<string>();
            var withGrant = new List<string>();
            bool allWithGo = true, allWithoutGo = true;
            void Convert(char code, string keyword)
            {
                int pos = codes.IndexOf(code);
                if (pos < 0)
                {
                    allWithGo = allWithoutGo = false;
                    return;
                }
                var text = column is null ? keyword : $"{keyword}({column})";
                if (pos + 1 < codes.Length && codes[pos + 1] == '*')
                {
                    withGrant.Add(text);
                    allWithoutGo = false;
                }
                else
                {
                    plain.Add(text);
                    allWithGo = false;
                }
            }
            switch (type)
            {
                case "TABLE": case "SEQUENCE": case "TABLES": case "SEQUENCES":
                    Convert('r', "SELECT");
                    if (type is "SEQUENCE" or "SEQUENCES") Convert('U', "USAGE");
                    else
                    {
                        Convert('a', "INSERT");
                        Convert('x', "REFERENCES");
                        if (column is null)
                        {
                            Convert('d', "DELETE");
                            Convert('t', "TRIGGER");
                            Convert('D', "TRUNCATE");
                            Convert('m', "MAINTAIN");
                        }
                    }
                    Convert('w', "UPDATE");
                    break;
                case "FUNCTION": case "FUNCTIONS": case "PROCEDURE":
                    Convert('X', "EXECUTE");
                    break;
                case "SCHEMA": case "SCHEMAS":
                    Convert('C', "CREATE");
                    Convert('U', "USAGE");
                    break;
                case "TYPE": case "TYPES":
                    Convert('U', "USAGE");
                    break;
                case "LARGE OBJECT": case "LARGE OBJECTS":
                    Convert('r', "SELECT");
                    Convert('w', "UPDATE");
                    break;
            }
            var all = column is null ? "ALL" : $"ALL({column})";
            if (allWithGo) return ("", all);
            if (allWithoutGo) return (all, "");
            return (string.Join(",", plain), string.Join(",", withGrant));
        }

        /// <summary>grantee=privileges/grantor, names quoted as the server's aclitem output quotes them.</summary>
        private static AclItem? Parse(string text)
        {
            int pos = 0;
            var grantee = ReadName(text, ref pos);
            if (pos >= text.Length || text[pos] != '=') return null;
            int slash = text.IndexOf('/', pos + 1);
            if (slash < 0) return null;
            var privileges = text.Substring(pos + 1, slash - pos - 1);
            pos = slash + 1;
            var grantor = ReadName(text, ref pos);
            return new AclItem { Grantee = grantee, Grantor = grantor, Privileges = privileges };
        }

        private static string ReadName(string text, ref int pos)
        {
            var sb = new StringBuilder();
            while (pos < text.Length && text[pos] != '=' && text[pos] != '/')
            {
                if (text[pos] != '"')
                {
                    sb.Append(text[pos++]);
                    continue;
                }
                pos++;
                while (pos < text.Length)
                {
                    if (text[pos] == '"')
                    {
                        if (pos + 1 < text.Length && text[pos + 1] == '"') { sb.Append('"'); pos += 2; continue; }
                        pos++;
                        break;
                    }
                    sb.Append(text[pos++]);
                }
            }
            return sb.ToString();
        }
    }
}
