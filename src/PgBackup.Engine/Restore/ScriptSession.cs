using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using Npgsql;

namespace PgBackup
{
    /// <summary>Where a statement came from, for messages: its line and first words (never a literal).</summary>
    internal readonly struct StatementOrigin
    {
        public StatementOrigin(long line, string what, bool ownerChange = false, bool privilege = false, bool createsExtension = false)
        {
            Line = line;
            What = what;
            OwnerChange = ownerChange;
            Privilege = privilege;
            CreatesExtension = createsExtension;
        }

        public long Line { get; }
        public string What { get; }
        /// <summary>The policy's marks of the statement (<see cref="RestoreAdvice"/> for its failures).</summary>
        public bool OwnerChange { get; }
        public bool Privilege { get; }
        public bool CreatesExtension { get; }
        public override string ToString() => $"line {Line} ({What})";
    }

    /// <summary>
    /// One connection of a plain-script restore: statements go in batches (extended protocol, one statement per
    /// message, so the server itself refuses a second statement hidden in one), COPY data streams through Npgsql's
    /// COPY API. Failures name the script's line and the statement's first words.
    /// </summary>
    internal sealed class ScriptSession : IDisposable
    {
        private const int BatchStatements = 64;
        private const int BatchChars = 1 << 20;

        private readonly NpgsqlConnection _connection;
        private readonly PgConnectionInfo _info;
        private readonly Redactor _redactor;
        private readonly bool _continueOnError;
        private readonly List<(string Text, StatementOrigin Origin)> _batch = new List<(string, StatementOrigin)>();
        private int _batchChars;
        private TextWriter? _copy;
        private Stream? _raw;
        private bool _freezing;
        private Decoder? _decoder;
        private char[] _chars = new char[1 << 16];
        private StatementOrigin _copyOrigin;
        private volatile bool _busy;

        private ScriptSession(NpgsqlConnection connection, PgConnectionInfo info, Redactor redactor, bool continueOnError)
        {
            _connection = connection;
            _info = info;
            _redactor = redactor;
            _continueOnError = continueOnError;
        }

        /// <summary>Errors passed over with ContinueOnError, each naming its line.</summary>
        public List<string> Errors { get; } = new List<string>();
        public int ProcessId => _connection.ProcessID;
        public int ServerMajor => _connection.PostgreSqlVersion.Major;
        /// <summary>The settings this connection has applied (see <see cref="ScriptSettings"/>).</summary>
        public int SettingsVersion { get; set; }

        public static ScriptSession Open(PgConnectionInfo target, Redactor redactor, bool continueOnError, IEnumerable<string> setup, CancellationToken ct)
        {
            var builder = new NpgsqlConnectionStringBuilder(PgServer.ToNpgsqlConnectionString(target));
#if NET8_0_OR_GREATER
            // Npgsql 10 says which statement of a batch failed only when asked (Npgsql 8 always does).
            builder.IncludeFailedBatchedCommand = true;
#endif
            var connection = new NpgsqlConnection(builder.ConnectionString);
            try
            {
                connection.OpenAsync(ct).GetAwaiter().GetResult();
                StopStatementsWhenClientGone(connection);
                var session = new ScriptSession(connection, target, redactor, continueOnError);
                foreach (var sql in setup) session.ExecuteNow(sql, new StatementOrigin(0, "PgBackup's session setting"));
                return session;
            }
            catch (Exception e) when (e is not OperationCanceledException && e is not PgBackupException)
            {
                connection.Dispose();
                throw PgServer.Translate(e, target, redactor, "connect to");
            }
        }

        /// <summary>
        /// When PgBackup's process dies in the middle of a statement (kill -9, a scheduler's time limit), the server
        /// notices within a second and stops it, instead of running it to its end (a CREATE INDEX of a large table can
        /// take an hour) and keeping a session in the scratch database that long: PostgreSQL 14 and later, on servers
        /// that can tell (Linux, macOS, BSD; elsewhere the setting is refused, and left alone).
        /// </summary>
        private static void StopStatementsWhenClientGone(NpgsqlConnection connection)
        {
            if (connection.PostgreSqlVersion.Major < 14) return;
            try
            {
                using var cmd = new NpgsqlCommand("SET client_connection_check_interval = 1000", connection);
                cmd.ExecuteNonQuery();
            }
            catch (PostgresException) { }
        }

        /// <summary>Adds a statement to the batch; the batch is sent when full or on <see cref="Flush"/>.</summary>
        public void Run(string text, StatementOrigin origin)
        {
            _batch.Add((text, origin));
            _batchChars += text.Length;
            if (_continueOnError || _batch.Count >= BatchStatements || _batchChars >= BatchChars) Flush();
        }

        public void Flush()
        {
            if (_batch.Count == 0) return;
            var statements = _batch.ToArray();
            _batch.Clear();
            _batchChars = 0;
            using var batch = new NpgsqlBatch(_connection);
            foreach (var (text, _) in statements) batch.BatchCommands.Add(PgServer.Verbatim(text));
            _busy = true;
            try { batch.ExecuteNonQuery(); }
            catch (Exception e) when (e is NpgsqlException || e is InvalidOperationException || e is NotSupportedException)
            {
                var origin = statements[0].Origin;
                if (e is PostgresException pg && pg.BatchCommand is { } failed)
                {
                    int at = batch.BatchCommands.IndexOf(failed);
                    if (at >= 0) origin = statements[at].Origin;
                }
                Fail(e, origin);
            }
            finally { _busy = false; }
        }

        /// <summary>Runs one statement now (after the batch before it).</summary>
        public void ExecuteNow(string text, StatementOrigin origin)
        {
            Flush();
            _batch.Add((text, origin));
            Flush();
        }

        /// <summary>
        /// Starts a COPY. With <paramref name="freezeTarget"/> (a table just created in a database PgBackup made for
        /// this restore), the table is emptied and loaded in one transaction with COPY FREEZE: its rows are written
        /// frozen and visible, so the index builds and row counts after it need not visit every page again.
        /// </summary>
        public void BeginCopy(string command, Encoding encoding, StatementOrigin origin, string? freezeTarget = null)
        {
            Flush();
            _copyOrigin = origin;
            _decoder = encoding.GetDecoder();
            _freezing = freezeTarget is not null;
            if (_freezing)
            {
                Run("BEGIN", origin);
                Run("TRUNCATE ONLY " + freezeTarget, origin);
                Flush();
                command += " WITH (FREEZE)";
            }
            _busy = true;
            try
            {
                _copy = _connection.BeginTextImport(command);
                // UTF-8 scripts (nearly all) go to the server as they are: no decoding to UTF-16 and back. The server
                // checks the bytes against the connection's encoding (UTF8) itself.
                _raw = encoding.CodePage == 65001 && _copy is StreamWriter writer ? writer.BaseStream : null;
            }
            catch (Exception e) when (e is NpgsqlException || e is InvalidOperationException)
            {
                _copy = null;
                EndFreeze(false);
                Fail(e, origin);
            }
            finally { _busy = false; }
        }

        private void EndFreeze(bool commit)
        {
            if (!_freezing) return;
            _freezing = false;
            try { ExecuteNow(commit ? "COMMIT" : "ROLLBACK", _copyOrigin); }
            catch (PgBackupException) when (!commit) { /* the connection is gone; the caller reports why */ }
        }

        public void CopyData(byte[] buffer, int offset, int count)
        {
            if (_copy is null) return;
            if (_raw is not null)
            {
                _busy = true;
                try { _raw.Write(buffer, offset, count); }
                catch (Exception e) when (e is NpgsqlException || e is IOException || e is InvalidOperationException)
                {
                    AbortCopy();
                    EndFreeze(false);
                    Fail(e, _copyOrigin);
                }
                finally { _busy = false; }
                return;
            }
            int needed = _decoder!.GetCharCount(buffer, offset, count, false);
            if (needed > _chars.Length) _chars = new char[Math.Max(needed, _chars.Length * 2)];
            int n;
            try { n = _decoder.GetChars(buffer, offset, count, _chars, 0, false); }
            catch (DecoderFallbackException e)
            {
                AbortCopy();
                throw new PgBackupException(ErrorIds.UnsafeStatement, ErrorKind.InvalidData,
                    $"The COPY data after {_copyOrigin} holds bytes that are not valid in the script's encoding; nothing was loaded.", null, e);
            }
            _busy = true;
            try { _copy.Write(_chars, 0, n); }
            catch (Exception e) when (e is NpgsqlException || e is IOException || e is InvalidOperationException)
            {
                AbortCopy();
                EndFreeze(false);
                Fail(e, _copyOrigin);
            }
            finally { _busy = false; }
        }

        /// <summary>Ends the COPY: the server has then loaded every row, or its error is thrown here.</summary>
        public void EndCopy()
        {
            var copy = _copy;
            _copy = null;
            _raw = null;
            if (copy is null) { EndFreeze(false); return; }
            _busy = true;
            try { copy.Dispose(); }
            catch (Exception e) when (e is NpgsqlException || e is IOException || e is InvalidOperationException)
            {
                _busy = false;
                EndFreeze(false);
                Fail(e, _copyOrigin);
                return;
            }
            finally { _busy = false; }
            EndFreeze(true);
        }

        /// <summary>Abandons the COPY in progress: nothing of it is loaded.</summary>
        public void AbortCopy()
        {
            var copy = _copy;
            _copy = null;
            _raw = null;
            if (copy is NpgsqlCopyTextWriter writer)
            {
                try { writer.Cancel(); } catch (Exception) { /* the connection is being abandoned anyway */ }
                try { writer.Dispose(); } catch (Exception) { }
            }
            EndFreeze(false);
        }

        private void Fail(Exception e, StatementOrigin origin)
        {
            string message;
            if (e is PostgresException pg)
                message = $"Line {origin.Line} ({origin.What}): {_redactor.Redact(pg.MessageText)} (SQLSTATE {pg.SqlState})";
            else
            {
                var translated = PgServer.Translate(e, _info, _redactor, "run the backup's SQL on");
                if (translated.ErrorId == ErrorIds.ServerUnreachable) throw translated;
                message = $"Line {origin.Line} ({origin.What}): {translated.Message}";
            }
            if (_continueOnError && e is PostgresException)
            {
                lock (Errors) Errors.Add(message);
                return;
            }
            throw new PgBackupException(ErrorIds.RestoreStatementFailed, ErrorKind.InvalidOperation, message, null, e)
            { RecommendedAction = RestoreAdvice.For((e as PostgresException)?.SqlState, origin.OwnerChange, origin.Privilege, origin.CreatesExtension) };
        }

        /// <summary>Exact row counts of the tables, in this connection's transaction, compared with theirs.</summary>
        public (List<TableRowCount> Actual, List<string> Differences) CheckRows(IReadOnlyCollection<TableRowCount> tables, CancellationToken ct, bool inTransaction)
        {
            Flush();
            _busy = true;
            try { return PgServer.CheckRows(_connection, tables, ct, inTransaction); }
            catch (Exception e) when (e is NpgsqlException || e is InvalidOperationException)
            {
                throw PgServer.Translate(e, _info, _redactor, "count the rows of");
            }
            finally { _busy = false; }
        }

        /// <summary>Asks the server to cancel what this connection runs now (from another connection, as psql's Ctrl+C does).</summary>
        public void CancelRunning()
        {
            if (!_busy) return;
            try
            {
                using var other = new NpgsqlConnection(PgServer.ToNpgsqlConnectionString(_info));
                other.Open();
                using var cmd = new NpgsqlCommand("SELECT pg_catalog.pg_cancel_backend(@pid)", other);
                cmd.Parameters.AddWithValue("pid", ProcessId);
                cmd.ExecuteNonQuery();
            }
            catch (Exception) { /* best effort: the caller stops reading the script anyway */ }
        }

        public void Dispose()
        {
            AbortCopy();
            _connection.Dispose();
        }
    }
}
