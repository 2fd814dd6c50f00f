using System;

namespace PgBackup
{
    /// <summary>
    /// What to do when a restore fails on the backup's owners or privileges (roles the server does not have, or that
    /// the restoring role may not act for): the same words whether PgBackup's executor or pg_restore ran the statement.
    /// </summary>
    internal static class RestoreAdvice
    {
        public const string Owners =
            "The backup gives its objects to roles that this server lacks or that the restoring role is not a member of: restore with -NoOwner " +
            "(the objects then belong to the restoring role), or create the roles first (-CreateRoles, from a backup made with -Globals) and restore " +
            "as a superuser or a member of those roles.";

        public const string Privileges =
            "The backup grants privileges to roles that this server lacks, or that the restoring role may not grant: restore with -NoPrivileges " +
            "(and -NoOwner), or create the roles first (-CreateRoles, from a backup made with -Globals).";

        public const string Extension =
            "The backup creates an extension that this server cannot create for the restoring role: an extension that is not trusted needs " +
            "a superuser (on a managed service, its admin role, for the extensions the service allows), and every extension needs its files " +
            "(its package, the same version or newer) on the server. Restore as such a role, or install the extension's package on the server first.";

        public const string Dependents =
            "Objects outside the selection depend on a selected table (a view, a materialized view, a function using its row type, " +
            "a foreign key): select them too with -Table, or restore their whole schema with -Schema.";

        public const string ReadOnly =
            "The target's sessions are read-only (default_transaction_read_only, set on the database, the role or the server): -Table and " +
            "-Schema change the target itself, so lift it for the restore (ALTER DATABASE ... RESET default_transaction_read_only), or restore " +
            "the whole database, which gets its settings back once it is loaded.";

        /// <summary>
        /// The advice for a statement the policy marked (owner change, GRANT/REVOKE), or a CREATE EXTENSION, failing with
        /// <paramref name="sqlState"/>.
        /// </summary>
        public static string? For(string? sqlState, bool ownerChange, bool privilege, bool createsExtension = false)
        {
            if (createsExtension && sqlState is not null) return Extension;
            if (sqlState == "2BP01") return Dependents; // dependent_objects_still_exist: a -Table/-Schema replacement's DROP
            if (sqlState == "25006") return ReadOnly;   // read_only_sql_transaction
            // 42501 insufficient_privilege ("must be member of role"), 42704 undefined_object ("role ... does not exist").
            if (sqlState != "42501" && sqlState != "42704") return null;
            return ownerChange ? Owners : privilege ? Privileges : null;
        }

        /// <summary>The advice for pg_restore's failed command, as its (English: see ServerMessages) lines quote it.</summary>
        public static string? ForPgRestore(string errors)
        {
            if (errors.IndexOf("Command was: CREATE EXTENSION ", StringComparison.Ordinal) >= 0) return Extension;
            if (errors.IndexOf(" OWNER TO ", StringComparison.Ordinal) >= 0 || errors.IndexOf("Command was: SET SESSION AUTHORIZATION", StringComparison.Ordinal) >= 0) return Owners;
            if (errors.IndexOf("Command was: GRANT ", StringComparison.Ordinal) >= 0 || errors.IndexOf("Command was: REVOKE ", StringComparison.Ordinal) >= 0) return Privileges;
            return null;
        }
    }
}
