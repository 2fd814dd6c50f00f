using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace PgBackup
{
    /// <summary>A psql meta-command (a backslash command) found in a plain SQL script.</summary>
    public sealed class MetaCommand
    {
        public MetaCommand(long line, string command, string text, bool allowed)
        {
            Line = line;
            Command = command;
            Text = text;
            Allowed = allowed;
        }

        public long Line { get; }
        /// <summary>The command name without the backslash: <c>!</c>, <c>o</c>, <c>copy</c>, <c>restrict</c>.</summary>
        public string Command { get; }
        /// <summary>The line's text (shortened).</summary>
        public string Text { get; }
        public bool Allowed { get; }
    }

    /// <summary>
    /// Reads a plain-format SQL script (pg_dump's output) the way psql's lexer does: quotes, dollar quotes,
    /// comments, and COPY ... FROM stdin data blocks. It counts the rows of every table's data block, notes pg_dump's
    /// "dump complete" footer, and finds every backslash command psql would run. Only the commands pg_dump itself
    /// writes into a plain dump of one database (<c>\restrict</c> and <c>\unrestrict</c>) are allowed.
    /// Works on bytes: every character that matters to the syntax is ASCII, so UTF-8 and the other server encodings
    /// scan correctly.
    /// </summary>
    public sealed class PlainScriptScanner
    {
        private static readonly HashSet<string> AllowedCommands = new HashSet<string>(StringComparer.Ordinal) { "restrict", "unrestrict" };
        private const string Footer = "-- PostgreSQL database dump complete";

        private enum State { Normal, BlockComment, SingleQuote, EscapeQuote, DoubleQuote, DollarQuote }

        private readonly List<TableRowCount> _tables = new List<TableRowCount>();
        private readonly List<MetaCommand> _metaCommands = new List<MetaCommand>();
        private readonly byte[] _lineStart = new byte[4];
        private int _lineStartLength;
        private readonly List<byte> _line = new List<byte>(256);
        private readonly List<byte> _statement = new List<byte>(256);
        private Encoding _encoding = new UTF8Encoding(false);
        private bool _statementTruncated;

        private State _state = State.Normal;
        private int _commentDepth;
        private byte[] _dollarTag = Array.Empty<byte>();
        private bool _standardStrings = true;
        private bool _inCopyData;
        private bool _copyPending;
        private TableRowCount? _copyTable;
        private long _copyRows;
        private long _lineNumber = 1;

        /// <summary>Tables whose data blocks were read, with their row counts, in the order they appear.</summary>
        public IReadOnlyList<TableRowCount> Tables => _tables;
        public IReadOnlyList<MetaCommand> MetaCommands => _metaCommands;
        /// <summary>The first meta-command psql must not run, or null.</summary>
        public MetaCommand? FirstViolation { get; private set; }
        /// <summary>pg_dump's closing comment was seen: the script is not cut short.</summary>
        public bool FooterSeen { get; private set; }
        /// <summary>Still inside a COPY data block (the script ends in the middle of a table's data).</summary>
        public bool InCopyData => _inCopyData;
        public long Lines => _lineNumber - 1;
        /// <summary>A pg_dump script: its first lines include pg_dump's header.</summary>
        public bool HeaderSeen { get; private set; }
        /// <summary>The script's first lines (up to 20), for its "Dumped by pg_dump version" line.</summary>
        public string Header => _header.ToString();
        private readonly StringBuilder _header = new StringBuilder();

        public void Feed(byte[] buffer, int offset, int count)
        {
            int end = offset + count;
            int i = offset;
            while (i < end)
            {
                if (_inCopyData)
                {
                    int nl = Array.IndexOf(buffer, (byte)'\n', i, end - i);
                    int stop = nl < 0 ? end : nl;
                    // Keep the first bytes of the line to recognise the terminator "\.".
                    for (int k = i; k < stop && _lineStartLength < _lineStart.Length; k++) _lineStart[_lineStartLength++] = buffer[k];
                    if (nl < 0) return;
                    EndCopyLine();
                    i = nl + 1;
                }
                else
                {
                    int nl = Array.IndexOf(buffer, (byte)'\n', i, end - i);
                    int stop = nl < 0 ? end : nl;
                    for (int k = i; k < stop; k++) _line.Add(buffer[k]);
                    if (nl < 0) return;
                    LexLine();
                    _line.Clear();
                    _lineNumber++;
                    i = nl + 1;
                }
            }
        }

        /// <summary>Ends the script: a last line without a newline is read too.</summary>
        public void Complete()
        {
            if (_inCopyData)
            {
                if (_lineStartLength > 0) EndCopyLine();
            }
            else if (_line.Count > 0)
            {
                LexLine();
                _line.Clear();
                _lineNumber++;
            }
        }

        private void EndCopyLine()
        {
            int len = _lineStartLength;
            if (len > 0 && _lineStart[len - 1] == (byte)'\r' && len <= 3) len--;
            bool terminator = len == 2 && _lineStart[0] == (byte)'\\' && _lineStart[1] == (byte)'.';
            _lineStartLength = 0;
            _lineNumber++;
            if (terminator)
            {
                _inCopyData = false;
                if (_copyTable is not null) _copyTable.Rows = _copyRows;
                _copyTable = null;
            }
            else _copyRows++;
        }

        private void LexLine()
        {
            int n = _line.Count;
            if (n > 0 && _line[n - 1] == (byte)'\r') n--;
            if (_lineNumber <= 10 && StartsWith("-- PostgreSQL database dump", n)) HeaderSeen = true;
            if (_lineNumber <= 20) _header.Append(Encoding.UTF8.GetString(_line.GetRange(0, Math.Min(n, 200)).ToArray())).Append('\n');
            if (_state == State.Normal && StartsWith(Footer, n)) FooterSeen = true;

            int i = 0;
            while (i < n)
            {
                byte c = _line[i];
                switch (_state)
                {
                    case State.Normal:
                        if (c == '-' && i + 1 < n && _line[i + 1] == '-') { i = n; continue; }
                        if (c == '/' && i + 1 < n && _line[i + 1] == '*') { _state = State.BlockComment; _commentDepth = 1; i += 2; continue; }
                        if (c == '\'')
                        {
                            bool escape = !_standardStrings || (i > 0 && (_line[i - 1] == 'E' || _line[i - 1] == 'e') && (i < 2 || !IsIdentChar(_line[i - 2])));
                            _state = escape ? State.EscapeQuote : State.SingleQuote;
                            AppendStatement(c);
                            i++;
                            continue;
                        }
                        if (c == '"') { _state = State.DoubleQuote; AppendStatement(c); i++; continue; }
                        if (c == '$' && (i == 0 || !IsIdentChar(_line[i - 1])))
                        {
                            int tagEnd = ReadDollarTag(i, n);
                            if (tagEnd > 0)
                            {
                                _dollarTag = _line.GetRange(i, tagEnd - i + 1).ToArray();
                                _state = State.DollarQuote;
                                AppendStatement(c);
                                i = tagEnd + 1;
                                continue;
                            }
                        }
                        if (c == '\\') { i = MetaCommandAt(i, n); continue; }
                        if (c == ';') { EndStatement(); i++; continue; }
                        AppendStatement(c);
                        i++;
                        continue;

                    case State.BlockComment:
                        if (c == '/' && i + 1 < n && _line[i + 1] == '*') { _commentDepth++; i += 2; continue; }
                        if (c == '*' && i + 1 < n && _line[i + 1] == '/')
                        {
                            if (--_commentDepth == 0) _state = State.Normal;
                            i += 2;
                            continue;
                        }
                        i++;
                        continue;

                    case State.SingleQuote:
                    case State.EscapeQuote:
                        if (_state == State.EscapeQuote && c == '\\' && i + 1 < n) { i += 2; continue; }
                        if (c == '\'')
                        {
                            if (i + 1 < n && _line[i + 1] == '\'') { i += 2; continue; }
                            _state = State.Normal;
                            AppendStatement(c);
                        }
                        i++;
                        continue;

                    case State.DoubleQuote:
                        AppendStatement(c);
                        if (c == '"')
                        {
                            if (i + 1 < n && _line[i + 1] == '"') { AppendStatement(c); i += 2; continue; }
                            _state = State.Normal;
                        }
                        i++;
                        continue;

                    case State.DollarQuote:
                        if (c == '$' && MatchesAt(_dollarTag, i, n))
                        {
                            _state = State.Normal;
                            AppendStatement(c);
                            i += _dollarTag.Length;
                            continue;
                        }
                        i++;
                        continue;
                }
            }
            if (_state == State.Normal || _state == State.DoubleQuote) AppendStatement((byte)' ');
            if (_copyPending)
            {
                _copyPending = false;
                _inCopyData = true;
                _copyRows = 0;
                _lineStartLength = 0;
            }
        }

        private int MetaCommandAt(int i, int n)
        {
            int start = i + 1;
            int j = start;
            if (j < n && IsLetter(_line[j])) { while (j < n && (IsLetter(_line[j]) || _line[j] == '_' || (_line[j] >= '0' && _line[j] <= '9'))) j++; }
            else if (j < n) j++;
            string name = Encoding.UTF8.GetString(_line.GetRange(start, j - start).ToArray());
            string text = Encoding.UTF8.GetString(_line.GetRange(i, Math.Min(n - i, 200)).ToArray());
            bool allowed = AllowedCommands.Contains(name) && i == 0;
            var meta = new MetaCommand(_lineNumber, name, text, allowed);
            _metaCommands.Add(meta);
            if (!allowed && FirstViolation is null) FirstViolation = meta;
            // psql reads a command's arguments to the end of the line.
            return n;
        }

        private int ReadDollarTag(int i, int n)
        {
            int j = i + 1;
            if (j < n && _line[j] == '$') return j;
            if (j >= n || !(IsLetter(_line[j]) || _line[j] == '_' || _line[j] >= 0x80)) return -1;
            while (j < n && (IsIdentChar(_line[j]) && _line[j] != '$')) j++;
            return j < n && _line[j] == '$' ? j : -1;
        }

        private bool MatchesAt(byte[] tag, int i, int n)
        {
            if (i + tag.Length > n) return false;
            for (int k = 0; k < tag.Length; k++)
                if (_line[i + k] != tag[k]) return false;
            return true;
        }

        private bool StartsWith(string prefix, int n)
        {
            if (n < prefix.Length) return false;
            for (int k = 0; k < prefix.Length; k++)
                if (_line[k] != (byte)prefix[k]) return false;
            return true;
        }

        private static bool IsLetter(byte b) => (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
        private static bool IsIdentChar(byte b) => IsLetter(b) || (b >= '0' && b <= '9') || b == '_' || b == '$' || b >= 0x80;

        private void AppendStatement(byte c)
        {
            if (_statement.Count >= 8192) { _statementTruncated = true; return; }
            // Only the statement's start matters (COPY ... FROM stdin, SET standard_conforming_strings).
            _statement.Add(c);
        }

        private void EndStatement()
        {
            var text = _encoding.GetString(_statement.ToArray()).Trim();
            _statement.Clear();
            bool truncated = _statementTruncated;
            _statementTruncated = false;
            if (text.Length == 0) return;
            var words = text.Split(new[] { ' ', '\t', '\n' }, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 3 && words[0].Equals("SET", StringComparison.OrdinalIgnoreCase) &&
                words[1].Equals("standard_conforming_strings", StringComparison.OrdinalIgnoreCase))
            {
                var value = words[words.Length - 1].Trim('\'').ToLowerInvariant();
                if (value == "off" || value == "false") _standardStrings = false;
                else if (value == "on" || value == "true") _standardStrings = true;
            }
            if (words.Length >= 3 && words[0].Equals("SET", StringComparison.OrdinalIgnoreCase) &&
                words[1].Equals("client_encoding", StringComparison.OrdinalIgnoreCase))
            {
                // Names in the script are in its client encoding; the server encodings that matter here are UTF8
                // (the usual one) and LATIN1.
                var value = words[words.Length - 1].Trim('\'').ToUpperInvariant();
                _encoding = value is "LATIN1" or "ISO_8859_1" ? Encoding.GetEncoding("ISO-8859-1") : new UTF8Encoding(false);
            }
            if (words[0].Equals("COPY", StringComparison.OrdinalIgnoreCase) && !truncated && IsCopyFromStdin(words))
            {
                _copyPending = true;
                int pos = 4;
                while (pos < text.Length && text[pos] == ' ') pos++;
                string? first = PgIdentifier.ReadIdentifier(text, ref pos);
                string schema = "public", name = first ?? "";
                if (first is not null && pos < text.Length && text[pos] == '.')
                {
                    pos++;
                    schema = first;
                    name = PgIdentifier.ReadIdentifier(text, ref pos) ?? "";
                }
                _copyTable = new TableRowCount(schema, name, 0);
                _tables.Add(_copyTable);
            }
        }

        private static bool IsCopyFromStdin(string[] words)
        {
            for (int k = 1; k + 1 < words.Length; k++)
                if (words[k].Equals("FROM", StringComparison.OrdinalIgnoreCase) &&
                    words[k + 1].TrimEnd(';').Equals("STDIN", StringComparison.OrdinalIgnoreCase))
                    return true;
            return false;
        }

        public string DescribeViolation()
        {
            var v = FirstViolation;
            if (v is null) return "";
            return string.Format(CultureInfo.InvariantCulture,
                "Line {0} holds the psql meta-command \\{1} ('{2}'), which pg_dump does not write. PgBackup never runs meta-commands from a backup: the file may have been tampered with.",
                v.Line, v.Command, v.Text);
        }
    }
}
