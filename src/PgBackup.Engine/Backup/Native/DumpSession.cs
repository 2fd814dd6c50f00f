using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using Npgsql;

namespace PgBackup.Native
{
    /// <summary>One row of a catalog query, read by column name.</summary>
    internal sealed class CatalogRow
    {
        private readonly Dictionary<string, int> _names;
        private readonly object?[] _values;

        public CatalogRow(Dictionary<string, int> names, object?[] values)
        {
            _names = names;
            _values = values;
        }

        private object? Get(string column) =>
            _names.TryGetValue(column, out var i) ? _values[i] : throw new ArgumentException($"The query has no column {column}.", nameof(column));

        public bool IsNull(string column) => Get(column) is null;
        public string? TextAt(int i) => _values[i] is { } v ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;
        public string? Text(string column) => Get(column) switch { null => null, string s => s, char c => c.ToString(), var v => Convert.ToString(v, CultureInfo.InvariantCulture) };
        public string Str(string column) => Text(column) ?? "";
        public char Char(string column) => Get(column) switch { char c => c, string { Length: > 0 } s => s[0], _ => '\0' };
        public bool Bool(string column) => Get(column) is bool b && b;
        public long Long(string column) => Get(column) is { } v ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : 0;
        public int Int(string column) => (int)Long(column);
        public uint Oid(string column) => Get(column) is { } v ? Convert.ToUInt32(v, CultureInfo.InvariantCulture) : 0;
        public string[]? Texts(string column) => Get(column) switch { null => null, string[] a => a, Array a => ToStrings(a), _ => null };
        public byte[]? Bytes(string column) => Get(column) as byte[];
        public uint[] Oids(string column) => Get(column) switch { uint[] a => a, Array a => ToOids(a), _ => Array.Empty<uint>() };

        private static string[] ToStrings(Array a)
        {
            var r = new string[a.Length];
            for (int i = 0; i < a.Length; i++) r[i] = Convert.ToString(a.GetValue(i), CultureInfo.InvariantCulture) ?? "";
            return r;
        }

        private static uint[] ToOids(Array a)
        {
            var r = new uint[a.Length];
            for (int i = 0; i < a.Length; i++) r[i] = Convert.ToUInt32(a.GetValue(i), CultureInfo.InvariantCulture);
            return r;
        }
    }

    /// <summary>
    /// A connection the native dump reads through: catalog queries (parameters only, never catalog text in the SQL),
    /// COPY ... TO STDOUT as raw bytes, and large objects in chunks. Npgsql stays inside this class.
    /// </summary>
    internal sealed class DumpSession : IDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly PgConnectionInfo _info;
        private readonly Redactor _redactor;
        private readonly CancellationToken _ct;

        private DumpSession(NpgsqlConnection connection, PgConnectionInfo info, Redactor redactor, CancellationToken ct)
        {
            _connection = connection;
            _info = info;
            _redactor = redactor;
            _ct = ct;
        }

        public static DumpSession Open(PgConnectionInfo info, Redactor redactor, CancellationToken ct)
        {
            // COPY sends one message per row: a read buffer far larger than Npgsql's 8 kB means fewer socket reads.
            var builder = new NpgsqlConnectionStringBuilder(PgServer.ToNpgsqlConnectionString(info)) { ReadBufferSize = 1 << 20 };
            var connection = new NpgsqlConnection(builder.ConnectionString);
            try
            {
                connection.OpenAsync(ct).GetAwaiter().GetResult();
                return new DumpSession(connection, info, redactor, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                connection.Dispose();
                throw PgServer.Translate(e, info, redactor, "connect to");
            }
        }

        public int ServerVersionNum => _connection.PostgreSqlVersion.Major * 10000 + Math.Max(0, _connection.PostgreSqlVersion.Minor);
        public int ProcessId => _connection.ProcessID;

        /// <summary>Runs a statement PgBackup wrote (no catalog text in it, or names quoted as pg_dump quotes them).</summary>
        public void Execute(string sql, params (string Name, object Value)[] parameters)
        {
            Guard(() =>
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                AddParameters(cmd, parameters);
                using (_ct.Register(() => Cancel(cmd)))
                    cmd.ExecuteNonQuery();
                return 0;
            }, "run a command on");
        }

        public List<CatalogRow> Query(string sql, params (string Name, object Value)[] parameters)
        {
            return Guard(() =>
            {
                using var cmd = new NpgsqlCommand(sql, _connection);
                AddParameters(cmd, parameters);
                using var cancel = _ct.Register(() => Cancel(cmd));
                using var reader = cmd.ExecuteReader();
                var names = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int i = 0; i < reader.FieldCount; i++) names[reader.GetName(i)] = i;
                var rows = new List<CatalogRow>();
                while (reader.Read())
                {
                    var values = new object?[reader.FieldCount];
                    for (int i = 0; i < values.Length; i++) values[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                    rows.Add(new CatalogRow(names, values));
                }
                return rows;
            }, "read the catalog of");
        }

        /// <summary>The first column of the first row, as text (null when there is none).</summary>
        public string? Scalar(string sql, params (string Name, object Value)[] parameters)
        {
            var rows = Query(sql, parameters);
            return rows.Count == 0 ? null : rows[0].TextAt(0);
        }

        /// <summary>
        /// <c>COPY ... TO STDOUT</c> in text format, its bytes copied as the server sends them (UTF-8) into
        /// <paramref name="destination"/>; returns the bytes copied. Npgsql's text export is a StreamReader over the
        /// raw COPY stream: reading its base stream skips decoding and re-encoding.
        /// </summary>
        public long CopyOut(string copyCommand, Stream destination, byte[] buffer)
        {
            return Guard(() =>
            {
                long total = 0;
                using var reader = _connection.BeginTextExport(copyCommand);
                using var cancel = _ct.Register(() => { try { ((NpgsqlCopyTextReader)reader).Cancel(); } catch (Exception) { } });
                var raw = ((StreamReader)reader).BaseStream;
                int n;
                while ((n = raw.Read(buffer, 0, buffer.Length)) > 0)
                {
                    destination.Write(buffer, 0, n);
                    total += n;
                }
                return total;
            }, "copy a table's data from");
        }

        /// <summary>Parameters by value; OIDs (uint) and OID arrays are typed explicitly (Npgsql infers no type for them).</summary>
        private static void AddParameters(NpgsqlCommand cmd, (string Name, object Value)[] parameters)
        {
            foreach (var (name, value) in parameters)
            {
                var p = cmd.Parameters.AddWithValue(name, value);
                if (value is uint[]) p.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid;
                else if (value is uint) p.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid;
            }
        }

        private T Guard<T>(Func<T> action, string what)
        {
            try
            {
                var r = action();
                _ct.ThrowIfCancellationRequested();
                return r;
            }
            catch (Exception e) when ((e is NpgsqlException || e is InvalidOperationException) && _ct.IsCancellationRequested)
            {
                throw new OperationCanceledException("The backup was stopped.", e, _ct);
            }
            catch (Exception e) when (e is NpgsqlException || e is InvalidOperationException || e is NotSupportedException)
            {
                throw PgServer.Translate(e, _info, _redactor, what);
            }
        }

        /// <summary>The SQLSTATE of a server error behind a PgBackup error, if any.</summary>
        public static string? SqlState(Exception e)
        {
            for (var x = e; x is not null; x = x.InnerException)
                if (x is PostgresException pg) return pg.SqlState;
            return null;
        }

        private static void Cancel(NpgsqlCommand cmd)
        {
            try { cmd.Cancel(); } catch (Exception) { }
        }

        public void Dispose() => _connection.Dispose();
    }
}
