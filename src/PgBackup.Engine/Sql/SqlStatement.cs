using System;
using System.Collections.Generic;
using System.Text;

namespace PgBackup
{
    /// <summary>The kinds of token <see cref="SqlLexer"/> tells apart.</summary>
    public enum SqlTokenKind : byte
    {
        /// <summary>A keyword or unquoted identifier.</summary>
        Word,
        /// <summary>A double-quoted identifier, <c>"..."</c> or <c>U&amp;"..."</c>.</summary>
        QuotedIdentifier,
        /// <summary>A standard string, <c>'...'</c> (also <c>N'...'</c>).</summary>
        String,
        /// <summary>An escape string, <c>E'...'</c>.</summary>
        EscapeString,
        /// <summary>A Unicode-escape string, <c>U&amp;'...'</c>.</summary>
        UnicodeString,
        /// <summary>A bit or hex string, <c>B'...'</c> or <c>X'...'</c>.</summary>
        BitString,
        /// <summary>A dollar-quoted string, <c>$tag$...$tag$</c>.</summary>
        DollarString,
        Number,
        /// <summary>A positional parameter, <c>$1</c>.</summary>
        Parameter,
        /// <summary>One of <c>( ) , [ ] . .. : ::</c> and a semicolon inside parentheses.</summary>
        Punctuation,
        /// <summary>One operator character (<c>+ - * / &lt; &gt; = ~ ! @ # % ^ &amp; | ` ?</c>) or anything else.</summary>
        Operator,
    }

    /// <summary>A token of a statement: where it lies in the statement's bytes.</summary>
    public readonly struct SqlToken
    {
        public SqlToken(SqlTokenKind kind, int start, int length, bool spaceBefore)
        {
            Kind = kind;
            Start = start;
            Length = length;
            SpaceBefore = spaceBefore;
        }

        public SqlTokenKind Kind { get; }
        public int Start { get; }
        public int Length { get; }
        /// <summary>Whitespace or a comment separates it from the token before.</summary>
        public bool SpaceBefore { get; }
        public bool IsString => Kind == SqlTokenKind.String;
    }

    /// <summary>
    /// One statement as <see cref="SqlLexer"/> read it: its bytes (comments left out), its tokens and its first line.
    /// The lexer reuses the instance for the next statement; <see cref="Copy"/> keeps one.
    /// </summary>
    public sealed class SqlStatement
    {
        private byte[] _buffer;
        private SqlToken[] _tokens;

        public SqlStatement(int capacity = 4096)
        {
            _buffer = new byte[capacity];
            _tokens = new SqlToken[64];
        }

        public byte[] Buffer => _buffer;
        public int Length { get; private set; }
        public SqlToken[] Tokens => _tokens;
        public int TokenCount { get; private set; }
        /// <summary>The line of the script where the statement starts.</summary>
        public long Line { get; internal set; }

        internal void Append(byte b)
        {
            if (Length == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            _buffer[Length++] = b;
        }

        internal void Truncate(int length) => Length = length;

        internal void AddToken(SqlToken token)
        {
            if (TokenCount == _tokens.Length) Array.Resize(ref _tokens, _tokens.Length * 2);
            _tokens[TokenCount++] = token;
        }

        internal void ReplaceLastToken(SqlToken token) => _tokens[TokenCount - 1] = token;

        internal void Clear()
        {
            Length = 0;
            TokenCount = 0;
            // Do not keep a huge buffer from one large statement for the rest of the script.
            if (_buffer.Length > 1 << 20) _buffer = new byte[4096];
            if (_tokens.Length > 1 << 16) _tokens = new SqlToken[64];
        }

        /// <summary>A copy that outlives the lexer's next statement.</summary>
        public SqlStatement Copy()
        {
            var c = new SqlStatement(Math.Max(16, Length)) { Line = Line };
            System.Buffer.BlockCopy(_buffer, 0, c._buffer, 0, Length);
            c.Length = Length;
            c._tokens = new SqlToken[Math.Max(1, TokenCount)];
            Array.Copy(_tokens, c._tokens, TokenCount);
            c.TokenCount = TokenCount;
            return c;
        }

        public SqlToken this[int index] => _tokens[index];

        /// <summary>The token is the unquoted word <paramref name="lowerCaseWord"/> (any case).</summary>
        public bool IsWord(SqlToken token, string lowerCaseWord)
        {
            if (token.Kind != SqlTokenKind.Word || token.Length != lowerCaseWord.Length) return false;
            for (int k = 0; k < token.Length; k++)
            {
                int c = _buffer[token.Start + k];
                if (c >= 'A' && c <= 'Z') c += 32;
                if (c != lowerCaseWord[k]) return false;
            }
            return true;
        }

        public bool IsWord(int index, string lowerCaseWord) => index < TokenCount && IsWord(_tokens[index], lowerCaseWord);

        /// <summary>Token <paramref name="index"/> is the punctuation or operator <paramref name="text"/>.</summary>
        public bool IsSymbol(int index, string text)
        {
            if (index >= TokenCount) return false;
            var t = _tokens[index];
            if ((t.Kind != SqlTokenKind.Punctuation && t.Kind != SqlTokenKind.Operator) || t.Length != text.Length) return false;
            for (int k = 0; k < t.Length; k++)
                if (_buffer[t.Start + k] != text[k]) return false;
            return true;
        }

        /// <summary>The tokens from <paramref name="index"/> on are these words, in order.</summary>
        public bool IsWords(int index, params string[] lowerCaseWords)
        {
            for (int k = 0; k < lowerCaseWords.Length; k++)
                if (!IsWord(index + k, lowerCaseWords[k])) return false;
            return true;
        }

        public bool IsName(int index) =>
            index < TokenCount && (_tokens[index].Kind == SqlTokenKind.Word || _tokens[index].Kind == SqlTokenKind.QuotedIdentifier);

        /// <summary>The raw text of a token, decoded with the script's encoding.</summary>
        public string TokenText(int index, Encoding encoding) => encoding.GetString(_buffer, _tokens[index].Start, _tokens[index].Length);

        /// <summary>An identifier token as the server reads it: quoted names unquoted, unquoted names folded to lower case.</summary>
        public string Identifier(int index, Encoding encoding)
        {
            var t = _tokens[index];
            var text = encoding.GetString(_buffer, t.Start, t.Length);
            if (t.Kind == SqlTokenKind.QuotedIdentifier)
                return text.Substring(1, text.Length - 2).Replace("\"\"", "\"");
            // The server folds only ASCII letters.
            var chars = text.ToCharArray();
            for (int k = 0; k < chars.Length; k++) if (chars[k] >= 'A' && chars[k] <= 'Z') chars[k] = (char)(chars[k] + 32);
            return new string(chars);
        }

        /// <summary>A standard string literal's value (<c>'it''s'</c> is <c>it's</c>).</summary>
        public string StringValue(int index, Encoding encoding)
        {
            var text = encoding.GetString(_buffer, _tokens[index].Start, _tokens[index].Length);
            int open = text.IndexOf('\'');
            return text.Substring(open + 1, text.Length - open - 2).Replace("''", "'");
        }

        /// <summary>The statement's text, decoded with the script's encoding.</summary>
        public string Text(Encoding encoding) => encoding.GetString(_buffer, 0, Length);

        /// <summary>
        /// The statement's first words, for messages: keywords and names only, strings shown as <c>'...'</c>, never more
        /// than <paramref name="maxTokens"/> tokens or 80 characters (no literal, so no secret, reaches a message).
        /// </summary>
        public string Describe(int maxTokens = 6)
        {
            var sb = new StringBuilder();
            for (int k = 0; k < TokenCount && k < maxTokens; k++)
            {
                var t = _tokens[k];
                if (k > 0 && t.SpaceBefore) sb.Append(' ');
                switch (t.Kind)
                {
                    case SqlTokenKind.Word:
                    case SqlTokenKind.QuotedIdentifier:
                    case SqlTokenKind.Punctuation:
                    case SqlTokenKind.Operator:
                        sb.Append(Encoding.UTF8.GetString(_buffer, t.Start, Math.Min(t.Length, 64)));
                        break;
                    case SqlTokenKind.Number:
                        sb.Append('0');
                        break;
                    default:
                        sb.Append("'...'");
                        break;
                }
                if (sb.Length > 80) { sb.Length = 77; sb.Append("..."); return sb.ToString(); }
            }
            if (TokenCount > maxTokens) sb.Append(" ...");
            return sb.ToString();
        }

        public override string ToString() => Describe();

        /// <summary>Splits <paramref name="text"/> into its statements (for tests and small scripts).</summary>
        public static List<SqlStatement> Split(string text)
        {
            var collector = new Collector();
            var lexer = new SqlLexer(collector);
            var bytes = new UTF8Encoding(false).GetBytes(text);
            lexer.Feed(bytes, 0, bytes.Length);
            lexer.Complete();
            if (collector.Refusal is not null) throw new FormatException(collector.Refusal);
            return collector.Statements;
        }

        private sealed class Collector : ISqlScriptHandler
        {
            public List<SqlStatement> Statements { get; } = new List<SqlStatement>();
            public string? Refusal { get; private set; }
            public void Statement(SqlStatement statement) => Statements.Add(statement.Copy());
            public void MetaCommand(long line, byte[] buffer, int offset, int count) => Refusal ??= $"line {line}: a meta-command";
            public void CopyData(byte[] buffer, int offset, int count) { }
            public void CopyEnd(long rows) { }
            public void Refused(long line, string reason) => Refusal ??= $"line {line}: {reason}";
        }
    }
}
