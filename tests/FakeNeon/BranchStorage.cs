using System;
using System.Collections.Generic;
using System.Threading;
using Npgsql;

namespace FakeNeon
{
    /// <summary>Where a fake branch's data lives: one real database per branch, or nowhere (spec-only tests).</summary>
    public interface IBranchStorage : IDisposable
    {
        /// <summary>The connection URI of a branch's database, as the fake's connection_uri route returns it.</summary>
        string? UriFor(string database);
        void CreateEmpty(string database);
        /// <summary>A copy of <paramref name="template"/> as it is now: CREATE DATABASE ... TEMPLATE.</summary>
        void CreateFrom(string database, string template);
        void Drop(string database);
        /// <summary>
        /// Neon's restore with the data: <paramref name="target"/> keeps its name (so its URI stays valid) and gets a copy
        /// of <paramref name="source"/>; its previous contents move to <paramref name="preserved"/>.
        /// </summary>
        void Restore(string target, string source, string preserved);
        IReadOnlyDictionary<string, long> Sizes();
    }

    public sealed class NullStorage : IBranchStorage
    {
        public string? UriFor(string database) => null;
        public void CreateEmpty(string database) { }
        public void CreateFrom(string database, string template) { }
        public void Drop(string database) { }
        public void Restore(string target, string source, string preserved) { }
        public IReadOnlyDictionary<string, long> Sizes() => new Dictionary<string, long>();
        public void Dispose() { }
    }

    /// <summary>Branch databases on a real PostgreSQL server, reached with an admin connection URI.</summary>
    public sealed class PostgresStorage : IBranchStorage
    {
        private readonly NpgsqlDataSource _admin;
        private readonly string _host, _user, _password;
        private readonly int _port;
        private readonly string _prefix;
        private readonly HashSet<string> _mine = new HashSet<string>(StringComparer.Ordinal);

        public PostgresStorage(string adminUri, string prefix)
        {
            var uri = new Uri(adminUri);
            var userInfo = Uri.UnescapeDataString(uri.UserInfo);
            int colon = userInfo.IndexOf(':');
            _user = colon >= 0 ? userInfo.Substring(0, colon) : userInfo;
            _password = colon >= 0 ? userInfo.Substring(colon + 1) : "";
            _host = uri.Host;
            _port = uri.Port > 0 ? uri.Port : 5432;
            _prefix = prefix;
            var db = uri.AbsolutePath.Trim('/');
            var csb = new NpgsqlConnectionStringBuilder
            {
                Host = _host, Port = _port, Username = _user, Password = _password,
                Database = db.Length > 0 ? Uri.UnescapeDataString(db) : "postgres",
                Pooling = false, Timeout = 15, CommandTimeout = 60,
            };
            _admin = NpgsqlDataSource.Create(csb.ConnectionString);
        }

        public string Prefix => _prefix;

        public string? UriFor(string database) =>
            $"postgresql://{Uri.EscapeDataString(_user)}:{Uri.EscapeDataString(_password)}@{_host}:{_port}/{database}";

        private static string Q(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

        private void Exec(string sql)
        {
            using var conn = _admin.OpenConnection();
            using var cmd = new NpgsqlCommand(sql, conn);
            cmd.ExecuteNonQuery();
        }

        private void Terminate(params string[] databases)
        {
            using var conn = _admin.OpenConnection();
            using var cmd = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(@d) AND pid <> pg_backend_pid()", conn);
            cmd.Parameters.AddWithValue("d", databases);
            cmd.ExecuteNonQuery();
        }

        /// <summary>Runs a statement that needs the template (or the renamed database) free of sessions; retries briefly.</summary>
        private void WithoutSessions(string[] databases, string sql)
        {
            for (int attempt = 0; ; attempt++)
            {
                Terminate(databases);
                try { Exec(sql); return; }
                catch (PostgresException e) when (e.SqlState == "55006" && attempt < 20) { Thread.Sleep(50); }
            }
        }

        public void CreateEmpty(string database)
        {
            Exec($"CREATE DATABASE {Q(database)}");
            lock (_mine) _mine.Add(database);
        }

        public void CreateFrom(string database, string template)
        {
            WithoutSessions(new[] { template }, $"CREATE DATABASE {Q(database)} TEMPLATE {Q(template)}");
            lock (_mine) _mine.Add(database);
        }

        public void Drop(string database)
        {
            Exec($"DROP DATABASE IF EXISTS {Q(database)} WITH (FORCE)");
            lock (_mine) _mine.Remove(database);
        }

        public void Restore(string target, string source, string preserved)
        {
            WithoutSessions(new[] { target }, $"ALTER DATABASE {Q(target)} RENAME TO {Q(preserved)}");
            lock (_mine) { _mine.Remove(target); _mine.Add(preserved); }
            try
            {
                WithoutSessions(new[] { source }, $"CREATE DATABASE {Q(target)} TEMPLATE {Q(source)}");
                lock (_mine) _mine.Add(target);
            }
            catch
            {
                // Put the target back as it was.
                WithoutSessions(new[] { preserved }, $"ALTER DATABASE {Q(preserved)} RENAME TO {Q(target)}");
                lock (_mine) { _mine.Remove(preserved); _mine.Add(target); }
                throw;
            }
        }

        public IReadOnlyDictionary<string, long> Sizes()
        {
            var result = new Dictionary<string, long>(StringComparer.Ordinal);
            using var conn = _admin.OpenConnection();
            using var cmd = new NpgsqlCommand("SELECT datname, pg_database_size(oid) FROM pg_database WHERE starts_with(datname, @p)", conn);
            cmd.Parameters.AddWithValue("p", _prefix);
            using var r = cmd.ExecuteReader();
            while (r.Read()) result[r.GetString(0)] = r.GetInt64(1);
            return result;
        }

        public void Dispose()
        {
            string[] left;
            lock (_mine) left = new List<string>(_mine).ToArray();
            foreach (var db in left)
            {
                try { Exec($"DROP DATABASE IF EXISTS {Q(db)} WITH (FORCE)"); } catch (Exception) { }
            }
            _admin.Dispose();
        }
    }
}
