using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace PgBackup
{
    /// <summary>What runs an accepted plain script: the executor, or nothing (a check).</summary>
    public interface IPlainScriptConsumer
    {
        /// <summary>An accepted statement (not <see cref="StatementAction.Skip"/>). The statement is reused after the call.</summary>
        void Statement(SqlStatement statement, StatementInfo info);
        /// <summary>Data of the COPY statement just handed on (raw bytes in the script's encoding).</summary>
        void CopyData(byte[] buffer, int offset, int count);
        void CopyEnd(long rows);
    }

    /// <summary>Why a plain script is refused: the line and what is on it.</summary>
    public sealed class ScriptRefusal
    {
        public ScriptRefusal(string errorId, long line, string message)
        {
            ErrorId = errorId;
            Line = line;
            Message = message;
        }

        /// <summary><see cref="ErrorIds.UnsafeMetaCommand"/> or <see cref="ErrorIds.UnsafeStatement"/>.</summary>
        public string ErrorId { get; }
        public long Line { get; }
        public string Message { get; }

        public PgBackupException ToException(string? target) =>
            new PgBackupException(ErrorId, ErrorKind.SecurityError, Message, target)
            { RecommendedAction = "Restore only backups you made; a changed backup is refused before it can change the database restored into. Sign backups (-SigningKey) and verify them (-VerifyKey) where others can write to the store." };
    }

    /// <summary>
    /// Reads a plain SQL script with <see cref="SqlLexer"/> and decides every statement and meta-command with
    /// <see cref="PlainScriptPolicy"/>; hands what it accepts to an <see cref="IPlainScriptConsumer"/> (or to nothing, as a
    /// check), counts every table's rows (COPY data lines and INSERT rows), and notes pg_dump's header and footer. The
    /// first refusal stops it: as an exception (<see cref="ThrowOnRefusal"/>, when something is being run) or in
    /// <see cref="Refusal"/> (a check).
    /// </summary>
    public sealed class PlainScriptReader : ISqlScriptHandler
    {
        private readonly SqlLexer _lexer;
        private readonly PlainScriptPolicy _policy;
        private readonly IPlainScriptConsumer? _consumer;
        private readonly Dictionary<string, TableRowCount> _tableIndex = new Dictionary<string, TableRowCount>(StringComparer.Ordinal);
        private readonly List<TableRowCount> _tables = new List<TableRowCount>();
        private TableRowCount? _copyTable;

        public PlainScriptReader(IPlainScriptConsumer? consumer = null, PlainScriptPolicy? policy = null)
        {
            _consumer = consumer;
            _policy = policy ?? new PlainScriptPolicy();
            _lexer = new SqlLexer(this);
        }

        public PlainScriptPolicy Policy => _policy;
        public SqlLexer Lexer => _lexer;
        /// <summary>Throw the refusal as a <see cref="PgBackupException"/> instead of only keeping it.</summary>
        public bool ThrowOnRefusal { get; init; }
        /// <summary>
        /// Stop at the first refusal (true, the default). False: note it and read on, leaving the statement out (row
        /// counts of a script PgBackup only reads, such as pg_restore's output or pg_dump's while backing up).
        /// </summary>
        public bool StopOnRefusal { get; init; } = true;
        /// <summary>Shown as the error's target.</summary>
        public string? Target { get; init; }
        public ScriptRefusal? Refusal { get; private set; }
        /// <summary>The tables whose data the script holds, with their rows, in the order they first appear.</summary>
        public IReadOnlyList<TableRowCount> Tables => _tables;
        public bool FooterSeen => _lexer.FooterSeen;
        public string Header => _lexer.Header;
        public long Lines => _lexer.Line - 1;
        /// <summary>After <see cref="Complete"/>: why the script is cut short, or null.</summary>
        public string? Truncated => _lexer.Truncated;
        /// <summary>The whole script was read and is not cut short: pg_dump's footer, and nothing left open.</summary>
        public bool IsComplete => FooterSeen && Truncated is null && Refusal is null;
        public long Statements { get; private set; }
        public int RefusedCount { get; private set; }

        public void Feed(byte[] buffer, int offset, int count) => _lexer.Feed(buffer, offset, count);

        public void Complete() => _lexer.Complete();

        void ISqlScriptHandler.Statement(SqlStatement statement)
        {
            StatementInfo info;
            try { info = _policy.Classify(statement); }
            catch (DecoderFallbackException)
            {
                Refuse(ErrorIds.UnsafeStatement, statement.Line, $"bytes that are not valid {_policy.EncodingName} in '{statement.Describe(3)}'");
                return;
            }
            if (info.Refusal is not null)
            {
                Refuse(ErrorIds.UnsafeStatement, statement.Line, $"'{statement.Describe()}': {info.Refusal}");
                return;
            }
            Statements++;
            if (info.Action == StatementAction.Copy || info.Action == StatementAction.Insert)
            {
                var table = Count(info.Table!, info.Rows);
                if (info.Action == StatementAction.Copy)
                {
                    _copyTable = table;
                    _lexer.BeginCopyData();
                }
            }
            if (info.Action != StatementAction.Skip) _consumer?.Statement(statement, info);
        }

        private TableRowCount Count(TableRowCount table, long rows)
        {
            var key = table.QualifiedName;
            if (!_tableIndex.TryGetValue(key, out var known))
            {
                known = new TableRowCount(table.Schema, table.Name, 0);
                _tableIndex[key] = known;
                _tables.Add(known);
            }
            known.Rows += rows;
            return known;
        }

        void ISqlScriptHandler.MetaCommand(long line, byte[] buffer, int offset, int count)
        {
            string text;
            try { text = new UTF8Encoding(false, true).GetString(buffer, offset, count); }
            catch (DecoderFallbackException) { text = Encoding.GetEncoding("ISO-8859-1").GetString(buffer, offset, count); }
            var problem = _policy.CheckMetaCommand(text);
            if (problem is null) return;
            var shown = text.Length > 60 ? text.Substring(0, 60) + "..." : text;
            int space = text.IndexOfAny(new[] { ' ', '\t' });
            var command = space > 0 ? text.Substring(0, space) : text;
            Refuse(ErrorIds.UnsafeMetaCommand, line,
                $"the psql meta-command {(command.Length > 20 ? command.Substring(0, 20) : command)} ('{shown}'): {problem}");
        }

        void ISqlScriptHandler.CopyData(byte[] buffer, int offset, int count) => _consumer?.CopyData(buffer, offset, count);

        void ISqlScriptHandler.CopyEnd(long rows)
        {
            if (_copyTable is not null) _copyTable.Rows += rows;
            _copyTable = null;
            _consumer?.CopyEnd(rows);
        }

        void ISqlScriptHandler.Refused(long line, string reason) => Refuse(ErrorIds.UnsafeStatement, line, reason);

        private void Refuse(string errorId, long line, string what)
        {
            RefusedCount++;
            if (Refusal is not null) return;
            Refusal = new ScriptRefusal(errorId, line,
                $"Line {line} holds {what}. PgBackup runs only what pg_dump writes into a database's dump, and refuses the whole backup: it may have been changed.");
            if (ThrowOnRefusal) throw Refusal.ToException(Target);
            // Stop the lexer too (a refusal from the policy leaves it running otherwise).
            if (StopOnRefusal && !_lexer.IsRefused) _lexer.Stop();
        }
    }

    /// <summary>
    /// A pipeline stage that reads a plain script on its way through (<see cref="PlainScriptReader"/>): row counts of
    /// a backup as it is written, a check of a stored script, or (with an executor as consumer, before a null sink) a
    /// restore.
    /// </summary>
    public sealed class PlainScriptStream : WriteThroughStream
    {
        public PlainScriptStream(Stream inner, PlainScriptReader reader, bool leaveOpen = true) : base(inner, leaveOpen)
        {
            Reader = reader;
        }

        public PlainScriptReader Reader { get; }

        protected override void Observe(byte[] buffer, int offset, int count) => Reader.Feed(buffer, offset, count);
    }
}
