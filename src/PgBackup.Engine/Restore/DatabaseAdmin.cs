using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;

namespace PgBackup
{
    /// <summary>The database-level properties a restored database must keep: owner, locale, grants, settings, comment.</summary>
    public sealed class DatabaseShell
    {
        public string Owner { get; init; } = "";
        public string Encoding { get; init; } = "UTF8";
        public string Collate { get; init; } = "";
        public string Ctype { get; init; } = "";
        public string? LocaleProvider { get; init; }
        public string? ProviderLocale { get; init; }
        public string? Tablespace { get; init; }
        public int ConnectionLimit { get; init; } = -1;
        public List<DatabaseGrant> Grants { get; } = new List<DatabaseGrant>();
        public bool HasAcl { get; init; }
        /// <summary>The database's settings, and its roles' settings in it (pg_db_role_setting), as stored.</summary>
        public List<DatabaseSetting> Settings { get; } = new List<DatabaseSetting>();
        public string? Comment { get; init; }
        /// <summary>A template database (datistemplate): the restored one becomes one too.</summary>
        public bool IsTemplate { get; init; }
    }

    /// <summary>A privilege on a database: CREATE, CONNECT or TEMPORARY, to a role (null: PUBLIC).</summary>
    public sealed class DatabaseGrant
    {
        public DatabaseGrant(string privilege, string? grantee, bool withGrantOption)
        {
            Privilege = privilege;
            Grantee = grantee;
            WithGrantOption = withGrantOption;
        }

        public string Privilege { get; }
        public string? Grantee { get; }
        public bool WithGrantOption { get; }
    }

    /// <summary>A setting of a database (<see cref="Role"/> null) or of a role in it, as the catalog stores it.</summary>
    public sealed class DatabaseSetting
    {
        public DatabaseSetting(string? role, string name, string value)
        {
            Role = role;
            Name = name;
            Value = value;
        }

        public string? Role { get; }
        public string Name { get; }
        public string Value { get; }
    }

    /// <summary>
    /// Database-level work on a server, over a connection to a maintenance database (postgres, else template1):
    /// creating, renaming, dropping databases and counting their sessions. Only the databases named are touched.
    /// </summary>
    public sealed class DatabaseAdmin : IDisposable
    {
        private readonly PgServer _server;

        private DatabaseAdmin(PgServer server) { _server = server; }

        public PgServer Server => _server;
        public PgVersion Version => _server.Version;

        /// <summary>Connects to a maintenance database of the server <paramref name="server"/> points to (never <paramref name="avoid"/>).</summary>
        public static DatabaseAdmin Connect(PgConnectionInfo server, string? avoid, Redactor redactor, CancellationToken ct)
        {
            PgBackupException? last = null;
            foreach (var db in new[] { "postgres", "template1" })
            {
                if (string.Equals(db, avoid, StringComparison.Ordinal)) continue;
                try { return new DatabaseAdmin(PgServer.Connect(server.WithDatabase(db), redactor, ct)); }
                catch (PgBackupException e) when (e.ErrorId == ErrorIds.DatabaseNotFound) { last = e; }
            }
            throw last ?? new PgBackupException(ErrorIds.DatabaseNotFound, ErrorKind.ObjectNotFound, $"No maintenance database (postgres or template1) on {server.Server}.");
        }

        public bool Exists(string db) => _server.Scalar("SELECT 1 FROM pg_database WHERE datname = @d", ("d", db)) is not null;

        public int OtherSessions(string db) =>
            Convert.ToInt32(_server.Scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", ("d", db)), CultureInfo.InvariantCulture);

        /// <summary>
        /// What lives in a database besides its sessions and would not follow a replacement: its logical replication
        /// slots (DROP DATABASE drops them, and their consumers lose their place), its subscriptions (DROP DATABASE
        /// refuses them, so the previous copy would stay and go on applying changes) and its prepared transactions (they
        /// would commit into the previous copy). Printable, for a message.
        /// </summary>
        public List<string> HeldBy(string db) =>
            _server.Query("SELECT 'replication slot ' || pg_catalog.quote_literal(r.slot_name) FROM pg_catalog.pg_replication_slots r WHERE r.database = @d " +
                          "UNION ALL SELECT 'subscription ' || pg_catalog.quote_ident(s.subname) FROM pg_catalog.pg_subscription s " +
                          "JOIN pg_catalog.pg_database d ON d.oid = s.subdbid WHERE d.datname = @d " +
                          "UNION ALL SELECT 'prepared transaction ' || pg_catalog.quote_literal(p.gid) FROM pg_catalog.pg_prepared_xacts p WHERE p.database = @d ORDER BY 1", default, ("d", db))
                .Select(r => StoreName.Printable((string)r[0]!)).ToList();

        /// <summary>A name for a database of PgBackup's own (<see cref="ScratchNames"/>) that does not exist on the server.</summary>
        public string NewScratchName(ScratchKind kind, string? target = null)
        {
            for (int i = 0; i < 20; i++)
            {
                var name = ScratchNames.New(kind, target);
                if (!Exists(name)) return name;
            }
            throw new PgBackupException(ErrorIds.ServerQueryFailed, ErrorKind.InvalidOperation, "Could not find a free name for a scratch database.");
        }

        /// <summary>The mark for a database of <paramref name="kind"/> this process makes now, timed by the server's clock.</summary>
        public ScratchMark NewMark(ScratchKind kind, bool kept = false) =>
            ScratchMark.ForThisProcess(kind, Convert.ToDateTime(_server.Scalar("SELECT now()"), CultureInfo.InvariantCulture), kept);

        /// <summary>
        /// The databases whose comment starts with <paramref name="commentPrefix"/>: name, comment, the sessions on it
        /// (autovacuum aside, which DROP DATABASE ends itself) and the server's clock.
        /// </summary>
        public List<(string Name, string Comment, int Connections, DateTime Now)> MarkedDatabases(string commentPrefix, CancellationToken ct)
        {
            var notAutovacuum = Version.Major >= 10 ? " AND a.backend_type <> 'autovacuum worker'" : "";
            return _server.Query(
                "SELECT d.datname, shobj_description(d.oid, 'pg_database'), " +
                $"(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid(){notAutovacuum})::int, now() " +
                "FROM pg_database d WHERE position(@p IN coalesce(shobj_description(d.oid, 'pg_database'), '')) = 1 ORDER BY 1", ct, ("p", commentPrefix))
                .Select(r => ((string)r[0]!, (string)r[1]!, Convert.ToInt32(r[2], CultureInfo.InvariantCulture), Convert.ToDateTime(r[3], CultureInfo.InvariantCulture)))
                .ToList();
        }

        /// <summary>A database's size on disk, or null when it cannot be read (no CONNECT privilege, dropped meanwhile).</summary>
        public long? SizeOf(string db)
        {
            try { return Convert.ToInt64(_server.Scalar("SELECT pg_database_size(@d::name)", ("d", db)), CultureInfo.InvariantCulture); }
            catch (PgBackupException) { return null; }
        }

        /// <summary>Sets a database's comment (null removes it).</summary>
        public void Comment(string db, string? comment) => _server.Execute(PgSql.CommentOnDatabase(db, comment));

        public DatabaseShell ReadShell(string db)
        {
            bool v15 = Version.Major >= 15, v17 = Version.Major >= 17;
            string locale = v17 ? "d.datlocale" : v15 ? "d.daticulocale" : "NULL::text";
            string provider = v15 ? "d.datlocprovider::text" : "NULL::text";
            var row = _server.Query(
                $"SELECT pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, {provider}, {locale}, " +
                "t.spcname, d.datconnlimit, d.datacl IS NOT NULL, shobj_description(d.oid, 'pg_database'), d.oid::bigint, d.datistemplate " +
                "FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = @d", default, ("d", db)).FirstOrDefault()
                ?? throw new PgBackupException(ErrorIds.TargetDatabaseMissing, ErrorKind.ObjectNotFound, $"The database '{db}' does not exist.", db);
            var shell = new DatabaseShell
            {
                Owner = (string)row[0]!,
                Encoding = (string)row[1]!,
                Collate = (string)row[2]!,
                Ctype = (string)row[3]!,
                LocaleProvider = row[4] as string,
                ProviderLocale = row[5] as string,
                Tablespace = (string)row[6]! == "pg_default" ? null : (string)row[6]!,
                ConnectionLimit = Convert.ToInt32(row[7], CultureInfo.InvariantCulture),
                HasAcl = (bool)row[8]!,
                Comment = row[9] as string,
                IsTemplate = (bool)row[11]!,
            };
            long oid = Convert.ToInt64(row[10], CultureInfo.InvariantCulture);
            if (shell.HasAcl)
            {
                foreach (var acl in _server.Query(
                    "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable " +
                    "FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = @d", default, ("d", db)))
                    shell.Grants.Add(new DatabaseGrant((string)acl[1]!, acl[0] as string, (bool)acl[2]!));
            }
            foreach (var s in _server.Query(
                "SELECT CASE WHEN setrole = 0 THEN NULL ELSE pg_get_userbyid(setrole) END, unnest(setconfig) FROM pg_db_role_setting WHERE setdatabase = @o",
                default, ("o", oid)))
            {
                var text = (string)s[1]!;
                int eq = text.IndexOf('=');
                if (eq > 0) shell.Settings.Add(new DatabaseSetting(s[0] as string, text.Substring(0, eq), text.Substring(eq + 1)));
            }
            return shell;
        }

        private bool _mayCreateDatabases;

        /// <summary>
        /// Refuses, before anything changes, a role that may not create databases: every restore, drill and export
        /// works in a new database of PgBackup's own. Asked of the catalog: the server's own refusal would come in its
        /// language, after a misleading attempt to give the database to its owner.
        /// </summary>
        public void EnsureCanCreateDatabases(string name, CancellationToken ct)
        {
            if (_mayCreateDatabases) return; // asked once per connection: a restore asks before it starts and at Create
            var role = _server.Query("SELECT current_user::text, r.rolcreatedb OR r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user", ct);
            if (role.Count != 1 || role[0][1] is not false) { _mayCreateDatabases = true; return; }
            var who = (string)role[0][0]!;
            throw new PgBackupException(ErrorIds.PermissionDenied, ErrorKind.PermissionDenied,
                $"The role '{StoreName.Printable(who)}' may not create databases, and PgBackup restores into a new database of its own, checks it, and only then " +
                "puts it in the target's place (a -Table restore, a drill and Export-PgBackupData work in one too). Nothing was changed.", name)
            { RecommendedAction = $"Restore as a role with CREATEDB (a managed service's admin role has it), or give it: ALTER ROLE {StoreName.Printable(PgIdentifier.Quote(who))} CREATEDB." };
        }

        /// <summary>
        /// Creates an empty database from template0, like <paramref name="like"/> when given: its owner, locale,
        /// grants, settings (also its roles' settings in it) and comment. Names and values from the catalog reach the
        /// server only quoted or as parameters (<see cref="PgSql"/>). With <paramref name="mark"/> (a database of
        /// PgBackup's own) the mark is its comment, written at once; <paramref name="like"/>'s comment is then left for
        /// the swap or rename that makes it the user's database.
        /// </summary>
        public void Create(string name, DatabaseShell? like, IOperationLog log, CancellationToken ct, ScratchMark? mark = null)
        {
            EnsureCanCreateDatabases(name, ct);
            var sql = PgSql.CreateDatabase(name, like);
            try
            {
                _server.Execute(like is null ? sql : PgSql.WithOwner(sql, like.Owner), ct);
            }
            catch (PgBackupException e) when (like is not null && (e.ErrorId == ErrorIds.PermissionDenied || ServerMessages.SqlState(e) == "42501"))
            {
                log.Warning($"Could not give the new database to '{like.Owner}' ({e.Message}); it is owned by the restoring user instead.");
                _server.Execute(sql, ct);
            }
            if (mark is not null)
            {
                // Never an unmarked database of PgBackup's own: one that cannot be marked goes again at once.
                try { Comment(name, mark.ToComment()); }
                catch (PgBackupException)
                {
                    try { Drop(name, CancellationToken.None); } catch (PgBackupException) { }
                    throw;
                }
            }
            if (like is null) return;
            foreach (var command in PgSql.CopyShell(name, like, withComment: mark is null))
            {
                try { _server.Execute(command, ct); }
                catch (PgBackupException e) { log.Warning($"Could not carry over '{command}' to the restored database: {e.Message}"); }
            }
        }

        /// <summary>
        /// Gives <paramref name="name"/> the settings and connection limit of <paramref name="like"/> (PgSql.ShellSettings):
        /// after the load and its checks, just before the swap.
        /// </summary>
        public void ApplySettings(string name, DatabaseShell like, IOperationLog log, CancellationToken ct)
        {
            foreach (var command in PgSql.ShellSettings(name, like))
            {
                try { _server.Execute(command, ct); }
                catch (PgBackupException e) { log.Warning($"Could not carry over '{command}' to the restored database: {e.Message}"); }
            }
        }

        /// <summary>Drops a database (ending its sessions first). Missing databases are fine.</summary>
        public void Drop(string name, CancellationToken ct)
        {
            // One look at the database: whether it is a template (the previous copy of a template database is one too,
            // and PostgreSQL refuses to drop one), and whether sessions other than autovacuum are connected.
            var state = _server.Query(
                "SELECT d.datistemplate, (SELECT count(*) FROM pg_catalog.pg_stat_activity a WHERE a.datname = d.datname " +
                "AND a.pid <> pg_catalog.pg_backend_pid() AND a.backend_type <> 'autovacuum worker') FROM pg_catalog.pg_database d WHERE d.datname = @d", ct, ("d", name));
            if (state.Count == 1 && state[0][0] is true) _server.Execute(PgSql.SetTemplate(name, false), ct);
            if (Version.Major >= 13)
            {
                // FORCE only when sessions are connected: it would also end the autovacuum workers that a large restore
                // brings to the new database, which a role that is not superuser may not ("must be a member of the role
                // whose process is being terminated"), and the database stayed behind. Without FORCE, PostgreSQL stops
                // them itself. A session that connects in between makes the plain DROP fail (55006): then FORCE.
                if (state.Count == 0 || Convert.ToInt64(state[0][1], CultureInfo.InvariantCulture) == 0)
                {
                    try { _server.Execute(PgSql.DropDatabase(name, force: false), ct); return; }
                    catch (PgBackupException e) when (ServerMessages.SqlState(e) == "55006") { }
                }
                _server.Execute(PgSql.DropDatabase(name, force: true), ct);
                return;
            }
            _server.Execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", ct, ("d", name));
            _server.Execute(PgSql.DropDatabase(name, force: false), ct);
        }

        /// <summary>
        /// Drops a database unless a session is connected to it (never ending sessions): false when one is. Missing
        /// databases are fine.
        /// </summary>
        public bool DropIfUnused(string name, CancellationToken ct)
        {
            try
            {
                _server.Execute(PgSql.DropDatabase(name, force: false), ct);
                return true;
            }
            catch (PgBackupException e) when (ServerMessages.SqlState(e) == "55006")
            {
                return false;
            }
        }

        /// <summary>
        /// Puts <paramref name="replacement"/> in the place of <paramref name="target"/> in one transaction, the old
        /// database keeping its contents under <paramref name="previous"/>. With <paramref name="endSessions"/>,
        /// sessions on the target (and only on it) are ended first; otherwise other sessions make this fail. In the same
        /// transaction the new target gets <paramref name="comment"/> (its own, instead of PgBackup's mark) and the old one
        /// <paramref name="previousMark"/>.
        /// </summary>
        public void Swap(string target, string replacement, string previous, bool endSessions, IOperationLog log, string? comment, ScratchMark previousMark)
        {
            for (int attempt = 1; ; attempt++)
            {
                if (endSessions)
                {
                    int ended = Convert.ToInt32(_server.Scalar(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", ("d", target)), CultureInfo.InvariantCulture);
                    if (ended > 0)
                    {
                        log.Verbose($"Ended {ended} session(s) on '{target}'.");
                        Thread.Sleep(200);
                    }
                }
                try
                {
                    InTransaction(
                        PgSql.RenameDatabase(target, previous),
                        PgSql.RenameDatabase(replacement, target),
                        PgSql.CommentOnDatabase(target, comment),
                        PgSql.CommentOnDatabase(previous, previousMark.ToComment()));
                    return;
                }
                catch (PgBackupException e)
                {
                    // object_in_use: "database ... is being accessed by other users", in whatever language the server speaks.
                    bool busy = ServerMessages.SqlState(e) == "55006";
                    if (busy && endSessions && attempt < 10) continue;
                    if (busy)
                        throw new PgBackupException(ErrorIds.TargetDatabaseInUse, ErrorKind.ResourceBusy,
                            $"The database '{target}' has other sessions, so it was not replaced; it is unchanged. Close them or use -Force to end them.", target, e);
                    throw;
                }
            }
        }

        /// <summary>Renames a database and sets its comment (PgBackup's mark goes) in one transaction.</summary>
        public void Rename(string from, string to, string? comment) =>
            InTransaction(PgSql.RenameDatabase(from, to), PgSql.CommentOnDatabase(to, comment));

        private void InTransaction(params string[] statements)
        {
            _server.Execute("BEGIN");
            try
            {
                foreach (var s in statements) _server.Execute(s);
                _server.Execute("COMMIT");
            }
            catch (PgBackupException)
            {
                try { _server.Execute("ROLLBACK"); } catch (PgBackupException) { }
                throw;
            }
        }

        public void Dispose() => _server.Dispose();
    }
}
