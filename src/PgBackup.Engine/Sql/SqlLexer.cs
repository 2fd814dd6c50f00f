using System;
using System.Text;

namespace PgBackup
{
    /// <summary>What <see cref="SqlLexer"/> finds, in script order. Calls happen on the thread that feeds the lexer.</summary>
    public interface ISqlScriptHandler
    {
        /// <summary>A complete statement (without its semicolon). The statement is reused after the call.</summary>
        void Statement(SqlStatement statement);
        /// <summary>A psql meta-command line (a backslash at the start of a line), without its line end.</summary>
        void MetaCommand(long line, byte[] buffer, int offset, int count);
        /// <summary>Raw COPY data (whole or partial lines, line ends included), after <see cref="SqlLexer.BeginCopyData"/>.</summary>
        void CopyData(byte[] buffer, int offset, int count);
        /// <summary>The <c>\.</c> line that ends COPY data: <paramref name="rows"/> data lines were read.</summary>
        void CopyEnd(long rows);
        /// <summary>Something no pg_dump script holds; the lexer reads nothing more after it.</summary>
        void Refused(long line, string reason);
    }

    /// <summary>
    /// PgBackup's one SQL lexer: splits a plain SQL script (pg_dump's output) into statements, COPY data blocks and
    /// psql meta-command lines, with PostgreSQL's own lexical rules (<c>src/backend/parser/scan.l</c>): standard
    /// strings, <c>E''</c> with backslash escapes, <c>U&amp;''</c>, <c>B''</c>/<c>X''</c>/<c>N''</c>, dollar quotes with
    /// tags, quoted identifiers, nested <c>/* */</c> comments, <c>--</c> comments ended by <c>\n</c> or <c>\r</c>, and
    /// numbers (so that <c>1.E'x'</c> and <c>1$a$</c> lex as the server lexes them); and with psql's rule for where a
    /// statement ends (<c>src/fe_utils/psqlscan.l</c>: a semicolon outside parentheses and outside a
    /// <c>BEGIN ATOMIC ... END</c> function body).
    /// <para>
    /// Why PgBackup has its own: no .NET library lexes PostgreSQL's SQL, and psql, which does, is an interpreter with a
    /// shell escape: restoring a stored script must not depend on how psql reads it. Statements found here are sent to
    /// the server one at a time (extended protocol: the server refuses a second statement in one message), so a
    /// disagreement with the server's lexer can make a statement fail but never run something unseen.
    /// </para>
    /// <para>
    /// Works on bytes: the script's client encoding must keep every ASCII byte meaning ASCII (UTF-8 and every server
    /// encoding do; <see cref="PlainScriptPolicy"/> refuses the client-only ones). Refuses what pg_dump never writes and
    /// psql and the server could read differently: a NUL byte, a carriage return that does not end a line (outside
    /// COPY data), a backslash outside a string or a line of its own, a statement over <see cref="MaxStatementBytes"/>.
    /// Comments are left out of the statements handed on; line ends between tokens are kept (string continuation).
    /// </para>
    /// </summary>
    public sealed class SqlLexer
    {
        /// <summary>The largest statement accepted (the server's own limit for a query is 1 GB).</summary>
        public const int MaxStatementBytes = 256 << 20;

        private enum State : byte
        {
            Normal, Word, UAmp, Number, NumberFraction, NumberExponentMark, NumberExponentSign, NumberExponent, RadixNumber,
            Quote, QuoteEnd, EscapeQuote, EscapeQuoteBackslash, EscapeQuoteEnd, QuotedIdent, QuotedIdentEnd,
            DollarStart, DollarTag, DollarBody, Parameter,
            Dash, Slash, LineComment, BlockComment, BlockCommentStar, BlockCommentSlash,
            MetaCommand, AfterCopyStatement, CopyData, Refused,
        }

        private readonly ISqlScriptHandler _handler;
        private readonly SqlStatement _statement = new SqlStatement();
        private State _state = State.Normal;
        private SqlTokenKind _stringKind;
        private int _tokenStart;
        private int _tagStart;
        private int _tagLength;
        private int _commentDepth;
        private bool _spaceBefore = true;
        private bool _pendingCr;
        private int _parenDepth;
        private int _beginDepth;
        private int _wordCount;
        private readonly char[] _leadingWords = new char[4];
        private bool _lineStart = true;
        private bool _dashAtLineStart;
        private bool _commentAtLineStart;
        private long _line = 1;
        private long _position;
        private long _statementOffset = -1;
        private long _statementLine;

        // A meta-command or a comment line being read.
        private readonly byte[] _lineText = new byte[1024];
        private int _lineTextLength;

        // COPY data: the first bytes of a line are held while they may still be the terminator "\." (+ "\r").
        private bool _copyRequested;
        private readonly byte[] _held = new byte[3];
        private int _heldCount;
        private bool _inDataLine;
        private long _copyRows;
        private readonly StringBuilder _header = new StringBuilder();

        public SqlLexer(ISqlScriptHandler handler) { _handler = handler; }

        /// <summary>The number of the line being read.</summary>
        public long Line => _line;
        /// <summary>Bytes read so far; during <see cref="ISqlScriptHandler.Statement"/>, the offset of its semicolon.</summary>
        public long Position => _position;
        /// <summary>During <see cref="ISqlScriptHandler.Statement"/>: the offset of the statement's first byte.</summary>
        public long StatementOffset => _statementOffset;
        /// <summary>pg_dump's closing comment (<c>-- PostgreSQL database dump complete</c>) was read.</summary>
        public bool FooterSeen { get; private set; }
        /// <summary>The comment lines among the script's first 20 lines: pg_dump's header.</summary>
        public string Header => _header.ToString();
        public bool InCopyData => _state == State.CopyData || _state == State.AfterCopyStatement;
        /// <summary>After <see cref="Complete"/>: why the script is cut short (it ends inside a statement, string, comment or COPY data), or null.</summary>
        public string? Truncated { get; private set; }
        public bool IsRefused => _state == State.Refused;

        /// <summary>
        /// Called from <see cref="ISqlScriptHandler.Statement"/> for a <c>COPY ... FROM stdin</c>: the lines after the
        /// statement's line are its data, up to a line <c>\.</c>.
        /// </summary>
        public void BeginCopyData() => _copyRequested = true;

        /// <summary>Reads nothing more (whoever reads the script has what it wanted, or refused it).</summary>
        public void Stop() => _state = State.Refused;

        public void Feed(byte[] buffer, int offset, int count)
        {
            int end = offset + count;
            int i = offset;
            while (i < end && _state != State.Refused)
            {
                if (_state == State.CopyData)
                {
                    i = FeedCopyData(buffer, i, end);
                    continue;
                }
                byte b = buffer[i];
                if (b == 0) { Refuse("a NUL byte, which pg_dump never writes"); return; }
                if (_pendingCr && b != (byte)'\n') { Refuse("a carriage return that does not end the line, outside a string (psql ends a -- comment there)"); return; }
                // Inside a literal a carriage return is the value's (pg_dump --inserts writes them raw).
                _pendingCr = b == (byte)'\r' && !InsideLiteral();
                Step(b);
                if (_statement.Length > MaxStatementBytes) { Refuse($"a statement larger than {MaxStatementBytes >> 20} MB"); return; }
                if (b == (byte)'\n') { _line++; _lineStart = true; }
                else if (b != (byte)'\r') _lineStart = false;
                i++;
                _position++;
            }
        }

        /// <summary>The end of the script: a statement, string, comment or COPY block still open means it was cut short (<see cref="Truncated"/>).</summary>
        public void Complete()
        {
            if (_state == State.Refused) return;
            if (_pendingCr) { Refuse("a carriage return that does not end the line"); return; }
            if (_state == State.CopyData && _heldCount >= 2 && !_inDataLine)
            {
                // "\." as the very last line, without its line end.
                EndCopyBlock();
            }
            else if (_state == State.MetaCommand) EndMetaCommand();
            else if (_state != State.Normal && _state != State.CopyData && _state != State.AfterCopyStatement && !InsideQuoteOrComment())
                Step((byte)'\n'); // a last token or comment without a line end after it
            if (_state == State.Refused) return;
            if (InCopyData) Truncated = "it ends inside a table's COPY data";
            else if (_state != State.Normal) Truncated = "it ends inside a string, quoted name or comment";
            else if (_statement.TokenCount > 0) Truncated = "it ends inside a statement, before its semicolon";
        }

        private bool InsideLiteral() =>
            _state is State.Quote or State.EscapeQuote or State.EscapeQuoteBackslash or State.QuotedIdent or State.DollarBody;

        private bool InsideQuoteOrComment() =>
            _state is State.Quote or State.EscapeQuote or State.EscapeQuoteBackslash or State.QuotedIdent or State.DollarStart
                or State.DollarTag or State.DollarBody or State.BlockComment or State.BlockCommentStar or State.BlockCommentSlash;

        private void Refuse(string reason)
        {
            if (_state == State.Refused) return;
            _state = State.Refused;
            _handler.Refused(_line, reason);
        }

        private void Append(byte b) => _statement.Append(b);

        private void StartToken(byte b)
        {
            if (_statement.TokenCount == 0)
            {
                if (_statementOffset < 0)
                {
                    _statementOffset = _position;
                    _statementLine = _line;
                }
                _statement.Truncate(0);
            }
            _tokenStart = _statement.Length;
            Append(b);
        }

        private void EndToken(SqlTokenKind kind) => EndToken(kind, _tokenStart, _statement.Length - _tokenStart);

        private void EndToken(SqlTokenKind kind, int start, int length)
        {
            _statement.AddToken(new SqlToken(kind, start, length, _spaceBefore));
            _spaceBefore = false;
            if (kind == SqlTokenKind.Word) TrackBeginAtomic();
        }

        /// <summary>Drops the byte just appended that turned out to start a comment, not a token.</summary>
        private void UnstartToken()
        {
            _statement.Truncate(_statement.Length - 1);
            if (_statement.TokenCount == 0) _statementOffset = -1;
        }

        /// <summary>
        /// psql's rule (psqlscan.l): in <c>CREATE [OR REPLACE] FUNCTION|PROCEDURE</c>, BEGIN ... END (and CASE ... END
        /// within it) outside parentheses keep semicolons from ending the statement (SQL-standard function bodies).
        /// </summary>
        private void TrackBeginAtomic()
        {
            var t = _statement.Tokens[_statement.TokenCount - 1];
            if (_wordCount == 0) Array.Clear(_leadingWords, 0, _leadingWords.Length);
            if (_wordCount < _leadingWords.Length &&
                (_statement.IsWord(t, "create") || _statement.IsWord(t, "function") || _statement.IsWord(t, "procedure") ||
                 _statement.IsWord(t, "or") || _statement.IsWord(t, "replace")))
                _leadingWords[_wordCount] = (char)(_statement.Buffer[t.Start] | 0x20);
            _wordCount++;
            var w = _leadingWords;
            if (w[0] == 'c' && (w[1] == 'f' || w[1] == 'p' || (w[1] == 'o' && w[2] == 'r' && (w[3] == 'f' || w[3] == 'p'))) && _parenDepth == 0)
            {
                if (_statement.IsWord(t, "begin")) _beginDepth++;
                else if (_statement.IsWord(t, "case")) { if (_beginDepth >= 1) _beginDepth++; }
                else if (_statement.IsWord(t, "end")) { if (_beginDepth > 0) _beginDepth--; }
            }
        }

        /// <summary>Whitespace or a comment between tokens: one space (or the line end) in the text handed on.</summary>
        private void Space(bool newline)
        {
            _spaceBefore = true;
            if (_statement.TokenCount == 0) return;
            byte last = _statement.Buffer[_statement.Length - 1];
            if (newline) { if (last == (byte)' ') _statement.Truncate(_statement.Length - 1); if (last != (byte)'\n') Append((byte)'\n'); }
            else if (last != (byte)' ' && last != (byte)'\n') Append((byte)' ');
        }

        private void Step(byte b)
        {
            while (true)
            {
                switch (_state)
                {
                    case State.Normal:
                        NormalByte(b);
                        return;

                    case State.Word:
                        if (IsIdentCont(b)) { Append(b); return; }
                        if (_statement.Length - _tokenStart == 1)
                        {
                            // E'', B'', X'', N'', U&'' and U&"": prefixes only as a whole token (the server's longest match).
                            byte p = (byte)(_statement.Buffer[_tokenStart] | 0x20);
                            if (b == (byte)'\'' && p == (byte)'e') { Append(b); _state = State.EscapeQuote; return; }
                            if (b == (byte)'\'' && (p == (byte)'b' || p == (byte)'x')) { Append(b); _stringKind = SqlTokenKind.BitString; _state = State.Quote; return; }
                            if (b == (byte)'\'' && p == (byte)'n') { Append(b); _stringKind = SqlTokenKind.String; _state = State.Quote; return; }
                            if (b == (byte)'&' && p == (byte)'u') { Append(b); _state = State.UAmp; return; }
                        }
                        EndToken(SqlTokenKind.Word);
                        _state = State.Normal;
                        continue;

                    case State.UAmp:
                        if (b == (byte)'\'') { Append(b); _stringKind = SqlTokenKind.UnicodeString; _state = State.Quote; return; }
                        if (b == (byte)'"') { Append(b); _state = State.QuotedIdent; return; }
                        // The word U, then the operator &.
                        EndToken(SqlTokenKind.Word, _tokenStart, 1);
                        EndToken(SqlTokenKind.Operator, _tokenStart + 1, 1);
                        _state = State.Normal;
                        continue;

                    case State.Number:
                        if (IsDigit(b) || b == (byte)'_') { Append(b); return; }
                        if (b == (byte)'.') { Append(b); _state = State.NumberFraction; return; }
                        if (b == (byte)'e' || b == (byte)'E') { Append(b); _state = State.NumberExponentMark; return; }
                        if (_statement.Length - _tokenStart == 1 && _statement.Buffer[_tokenStart] == (byte)'0' && IsRadix(b))
                        {
                            // 0x1F, 0o17, 0b101 (PostgreSQL 16): letters and digits run on as one number.
                            Append(b);
                            _state = State.RadixNumber;
                            return;
                        }
                        EndToken(SqlTokenKind.Number);
                        _state = State.Normal;
                        continue;

                    case State.NumberFraction:
                        if (IsDigit(b) || b == (byte)'_') { Append(b); return; }
                        if (b == (byte)'.' && _statement.Buffer[_statement.Length - 1] == (byte)'.')
                        {
                            // "1..": the integer, then "..".
                            EndToken(SqlTokenKind.Number, _tokenStart, _statement.Length - 1 - _tokenStart);
                            Append(b);
                            EndToken(SqlTokenKind.Punctuation, _statement.Length - 2, 2);
                            _state = State.Normal;
                            return;
                        }
                        if (b == (byte)'e' || b == (byte)'E') { Append(b); _state = State.NumberExponentMark; return; }
                        EndToken(SqlTokenKind.Number);
                        _state = State.Normal;
                        continue;

                    case State.NumberExponentMark:
                        if (IsDigit(b)) { Append(b); _state = State.NumberExponent; return; }
                        if (b == (byte)'+' || b == (byte)'-') { Append(b); _state = State.NumberExponentSign; return; }
                        // "1.E'x'": the number ends before the E, which starts a word or an E'' string (scan.l's realfail).
                        EndToken(SqlTokenKind.Number, _tokenStart, _statement.Length - 1 - _tokenStart);
                        _tokenStart = _statement.Length - 1;
                        _state = State.Word;
                        continue;

                    case State.NumberExponentSign:
                        if (IsDigit(b)) { Append(b); _state = State.NumberExponent; return; }
                        // "1e+x": the number, the word e, the operator + or -.
                        EndToken(SqlTokenKind.Number, _tokenStart, _statement.Length - 2 - _tokenStart);
                        EndToken(SqlTokenKind.Word, _statement.Length - 2, 1);
                        EndToken(SqlTokenKind.Operator, _statement.Length - 1, 1);
                        _state = State.Normal;
                        continue;

                    case State.NumberExponent:
                        if (IsDigit(b)) { Append(b); return; }
                        EndToken(SqlTokenKind.Number);
                        _state = State.Normal;
                        continue;

                    case State.RadixNumber:
                        if (IsDigit(b) || IsLetter(b) || b == (byte)'_') { Append(b); return; }
                        EndToken(SqlTokenKind.Number);
                        _state = State.Normal;
                        continue;

                    case State.Parameter:
                        if (IsDigit(b)) { Append(b); return; }
                        EndToken(SqlTokenKind.Parameter);
                        _state = State.Normal;
                        continue;

                    case State.Quote:
                        Append(b);
                        if (b == (byte)'\'') _state = State.QuoteEnd;
                        return;

                    case State.QuoteEnd:
                        if (b == (byte)'\'') { Append(b); _state = State.Quote; return; }
                        EndToken(_stringKind);
                        _state = State.Normal;
                        continue;

                    case State.EscapeQuote:
                        Append(b);
                        if (b == (byte)'\\') _state = State.EscapeQuoteBackslash;
                        else if (b == (byte)'\'') _state = State.EscapeQuoteEnd;
                        return;

                    case State.EscapeQuoteBackslash:
                        Append(b);
                        _state = State.EscapeQuote;
                        return;

                    case State.EscapeQuoteEnd:
                        if (b == (byte)'\'') { Append(b); _state = State.EscapeQuote; return; }
                        EndToken(SqlTokenKind.EscapeString);
                        _state = State.Normal;
                        continue;

                    case State.QuotedIdent:
                        Append(b);
                        if (b == (byte)'"') _state = State.QuotedIdentEnd;
                        return;

                    case State.QuotedIdentEnd:
                        if (b == (byte)'"') { Append(b); _state = State.QuotedIdent; return; }
                        EndToken(SqlTokenKind.QuotedIdentifier);
                        _state = State.Normal;
                        continue;

                    case State.DollarStart:
                        if (b == (byte)'$') { Append(b); StartDollarBody(); return; }
                        if (IsDigit(b)) { Append(b); _state = State.Parameter; return; }
                        if (IsIdentStart(b)) { Append(b); _state = State.DollarTag; return; }
                        // A lone $: not SQL; hand it on and let the server say so.
                        EndToken(SqlTokenKind.Operator);
                        _state = State.Normal;
                        continue;

                    case State.DollarTag:
                        if (b == (byte)'$') { Append(b); StartDollarBody(); return; }
                        if (IsIdentCont(b)) { Append(b); return; }
                        // "$abc" without a closing $: the operator $, then a word.
                        EndToken(SqlTokenKind.Operator, _tokenStart, 1);
                        _tokenStart++;
                        _state = State.Word;
                        continue;

                    case State.DollarBody:
                        Append(b);
                        if (b == (byte)'$' && EndsWithTag()) { EndToken(SqlTokenKind.DollarString); _state = State.Normal; }
                        return;

                    case State.Dash:
                        if (b == (byte)'-')
                        {
                            UnstartToken();
                            _commentAtLineStart = _dashAtLineStart;
                            _lineTextLength = 0;
                            _state = State.LineComment;
                            return;
                        }
                        EndToken(SqlTokenKind.Operator);
                        _state = State.Normal;
                        continue;

                    case State.Slash:
                        if (b == (byte)'*')
                        {
                            UnstartToken();
                            _commentDepth = 1;
                            _state = State.BlockComment;
                            return;
                        }
                        EndToken(SqlTokenKind.Operator);
                        _state = State.Normal;
                        continue;

                    case State.LineComment:
                        if (b == (byte)'\n' || b == (byte)'\r')
                        {
                            EndLineComment();
                            _state = State.Normal;
                            continue;
                        }
                        if (_commentAtLineStart && _lineTextLength < _lineText.Length) _lineText[_lineTextLength++] = b;
                        return;

                    case State.BlockComment:
                        if (b == (byte)'*') _state = State.BlockCommentStar;
                        else if (b == (byte)'/') _state = State.BlockCommentSlash;
                        return;

                    case State.BlockCommentStar:
                        if (b == (byte)'/')
                        {
                            if (--_commentDepth == 0) { _state = State.Normal; Space(false); }
                            else _state = State.BlockComment;
                        }
                        else if (b != (byte)'*') _state = State.BlockComment;
                        return;

                    case State.BlockCommentSlash:
                        if (b == (byte)'*') { _commentDepth++; _state = State.BlockComment; }
                        else if (b != (byte)'/') _state = State.BlockComment;
                        return;

                    case State.MetaCommand:
                        if (b == (byte)'\n') { EndMetaCommand(); return; }
                        if (b == (byte)'\r') return;
                        if (_lineTextLength < _lineText.Length) _lineText[_lineTextLength++] = b;
                        else Refuse("a psql meta-command line longer than 1 KB");
                        return;

                    case State.AfterCopyStatement:
                        // The rest of the COPY statement's line: nothing but spaces before the data's first line.
                        if (b == (byte)' ' || b == (byte)'\t' || b == (byte)'\r') return;
                        if (b == (byte)'\n')
                        {
                            _state = State.CopyData;
                            _heldCount = 0;
                            _inDataLine = false;
                            _copyRows = 0;
                            return;
                        }
                        Refuse("text after a COPY ... FROM stdin statement on its line (pg_dump starts the data on the next line)");
                        return;

                    default:
                        return;
                }
            }
        }

        private void NormalByte(byte b)
        {
            switch (b)
            {
                case (byte)' ':
                case (byte)'\t':
                case (byte)'\r':
                case (byte)'\f':
                case (byte)'\v':
                    Space(false);
                    return;
                case (byte)'\n':
                    Space(true);
                    return;
                case (byte)';':
                    if (_parenDepth == 0 && _beginDepth == 0) { EndStatement(); return; }
                    StartToken(b);
                    EndToken(SqlTokenKind.Punctuation);
                    return;
                case (byte)'(':
                    _parenDepth++;
                    StartToken(b);
                    EndToken(SqlTokenKind.Punctuation);
                    return;
                case (byte)')':
                    if (_parenDepth > 0) _parenDepth--;
                    StartToken(b);
                    EndToken(SqlTokenKind.Punctuation);
                    return;
                case (byte)',':
                case (byte)'[':
                case (byte)']':
                case (byte)'.':
                    StartToken(b);
                    EndToken(SqlTokenKind.Punctuation);
                    return;
                case (byte)':':
                    // "::" is one token.
                    if (_statement.TokenCount > 0 && !_spaceBefore)
                    {
                        var last = _statement.Tokens[_statement.TokenCount - 1];
                        if (last.Kind == SqlTokenKind.Punctuation && last.Length == 1 && _statement.Buffer[last.Start] == (byte)':')
                        {
                            Append(b);
                            _statement.ReplaceLastToken(new SqlToken(SqlTokenKind.Punctuation, last.Start, 2, last.SpaceBefore));
                            return;
                        }
                    }
                    StartToken(b);
                    EndToken(SqlTokenKind.Punctuation);
                    return;
                case (byte)'\'':
                    StartToken(b);
                    _stringKind = SqlTokenKind.String;
                    _state = State.Quote;
                    return;
                case (byte)'"':
                    StartToken(b);
                    _state = State.QuotedIdent;
                    return;
                case (byte)'$':
                    StartToken(b);
                    _state = State.DollarStart;
                    return;
                case (byte)'-':
                    _dashAtLineStart = _lineStart && _statement.TokenCount == 0;
                    StartToken(b);
                    _state = State.Dash;
                    return;
                case (byte)'/':
                    StartToken(b);
                    _state = State.Slash;
                    return;
                case (byte)'\\':
                    if (_lineStart && _statement.TokenCount == 0)
                    {
                        _statement.Truncate(0);
                        _statementLine = _line;
                        _lineTextLength = 0;
                        _lineText[_lineTextLength++] = b;
                        _state = State.MetaCommand;
                        return;
                    }
                    Refuse("a backslash outside a string and not at the start of a line (psql would run what follows as a meta-command)");
                    return;
            }
            if (IsDigit(b)) { StartToken(b); _state = State.Number; return; }
            if (IsIdentStart(b)) { StartToken(b); _state = State.Word; return; }
            // Operator characters, and anything else the server will judge.
            StartToken(b);
            EndToken(SqlTokenKind.Operator);
        }

        private void StartDollarBody()
        {
            _tagStart = _tokenStart;
            _tagLength = _statement.Length - _tokenStart;
            _state = State.DollarBody;
        }

        private bool EndsWithTag()
        {
            int end = _statement.Length;
            if (end - _tagStart < 2 * _tagLength) return false;
            var buf = _statement.Buffer;
            for (int k = 0; k < _tagLength; k++)
                if (buf[_tagStart + k] != buf[end - _tagLength + k]) return false;
            return true;
        }

        private void EndLineComment()
        {
            if (_commentAtLineStart)
            {
                var text = Encoding.UTF8.GetString(_lineText, 0, Math.Min(_lineTextLength, 200));
                if (_line <= 20) _header.Append("--").Append(text).Append('\n');
                if (text.StartsWith(" PostgreSQL database dump complete", StringComparison.Ordinal)) FooterSeen = true;
            }
            _commentAtLineStart = false;
            _lineTextLength = 0;
            Space(false);
        }

        private void EndMetaCommand()
        {
            _state = State.Normal;
            int length = _lineTextLength;
            _lineTextLength = 0;
            _handler.MetaCommand(_statementLine, _lineText, 0, length);
        }

        private void EndStatement()
        {
            if (_statement.TokenCount == 0)
            {
                // An empty statement (a semicolon alone) is nothing to run.
                _statement.Truncate(0);
                _statementOffset = -1;
                return;
            }
            while (_statement.Length > 0 && (_statement.Buffer[_statement.Length - 1] == (byte)' ' || _statement.Buffer[_statement.Length - 1] == (byte)'\n'))
                _statement.Truncate(_statement.Length - 1);
            _statement.Line = _statementLine;
            _copyRequested = false;
            _handler.Statement(_statement);
            _statement.Clear();
            _statementOffset = -1;
            _spaceBefore = true;
            _parenDepth = 0;
            _beginDepth = 0;
            _wordCount = 0;
            if (_copyRequested && _state != State.Refused)
            {
                _copyRequested = false;
                _state = State.AfterCopyStatement;
            }
        }

        /// <summary>COPY data: runs of whole lines are handed on; a line that is exactly <c>\.</c> ends the block.</summary>
        private int FeedCopyData(byte[] buffer, int i, int end)
        {
            int runStart = i;
            while (i < end)
            {
                if (!_inDataLine)
                {
                    byte b = buffer[i];
                    bool terminatorSoFar = _heldCount switch
                    {
                        0 => b == (byte)'\\',
                        1 => b == (byte)'.',
                        2 => b == (byte)'\n' || b == (byte)'\r',
                        _ => b == (byte)'\n',
                    };
                    if (terminatorSoFar)
                    {
                        if (_heldCount == 0 && i > runStart) _handler.CopyData(buffer, runStart, i - runStart);
                        i++;
                        _position++;
                        runStart = i;
                        if (b == (byte)'\n')
                        {
                            _line++;
                            EndCopyBlock();
                            return i;
                        }
                        _held[_heldCount++] = b;
                        continue;
                    }
                    if (_heldCount > 0)
                    {
                        // Not the terminator after all: the bytes held are data.
                        _handler.CopyData(_held, 0, _heldCount);
                        _heldCount = 0;
                        runStart = i;
                    }
                    _inDataLine = true;
                }
                int k = new ReadOnlySpan<byte>(buffer, i, end - i).IndexOfAny((byte)'\n', (byte)0);
                if (k < 0)
                {
                    _position += end - i;
                    i = end;
                    break;
                }
                int at = i + k;
                if (buffer[at] == 0)
                {
                    if (at > runStart) _handler.CopyData(buffer, runStart, at - runStart);
                    Refuse("a NUL byte in COPY data");
                    return end;
                }
                _position += at + 1 - i;
                i = at + 1;
                _line++;
                _copyRows++;
                _inDataLine = false;
            }
            if (i > runStart) _handler.CopyData(buffer, runStart, i - runStart);
            return i;
        }

        private void EndCopyBlock()
        {
            _heldCount = 0;
            _inDataLine = false;
            _state = State.Normal;
            _lineStart = true;
            _pendingCr = false;
            _spaceBefore = true;
            _handler.CopyEnd(_copyRows);
        }

        private static bool IsDigit(byte b) => b >= (byte)'0' && b <= (byte)'9';
        private static bool IsLetter(byte b) => (b >= (byte)'a' && b <= (byte)'z') || (b >= (byte)'A' && b <= (byte)'Z');
        private static bool IsRadix(byte b) => b == (byte)'x' || b == (byte)'X' || b == (byte)'o' || b == (byte)'O' || b == (byte)'b' || b == (byte)'B';
        private static bool IsIdentStart(byte b) => IsLetter(b) || b == (byte)'_' || b >= 0x80;
        private static bool IsIdentCont(byte b) => IsIdentStart(b) || IsDigit(b) || b == (byte)'$';
    }
}
