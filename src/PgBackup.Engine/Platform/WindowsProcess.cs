using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace PgBackup
{
    /// <summary>
    /// What a command line and an environment become on their way to PostgreSQL's Windows tools. Windows hands a
    /// program its command line and environment as UTF-16; pg_dump, pg_restore and pg_dumpall are C programs with
    /// <c>main(argc, argv)</c> and <c>getenv</c>, so the C runtime converts both to the ANSI code page (GetACP: 1252 in
    /// Western Europe, 932 in Japan; 65001 only with Windows' "use Unicode UTF-8" option). A character outside it
    /// becomes '?'; one inside it arrives as an ANSI byte, which the server and the archive (UTF8) do not read as that
    /// character. So:
    /// <list type="bullet">
    /// <item>the connection (host, user, database, options) goes as a percent-encoded URI when it is not ASCII
    /// (<see cref="PgConnectionInfo.ToLibpqConninfo"/>): libpq decodes the bytes itself, so they reach the server as UTF-8;</item>
    /// <item>a file path is fine when it survives the round trip through the ANSI code page (the C runtime converts it
    /// back when it opens the file);</item>
    /// <item>any other value (a table pattern, the password in PGPASSWORD) must be ASCII unless the code page is
    /// UTF-8; otherwise PgBackup refuses before anything runs (ArgumentNotRepresentable), instead of a late,
    /// misleading "table not found" or "password authentication failed".</item>
    /// </list>
    /// </summary>
    public static class AnsiArguments
    {
        public const int Utf8CodePage = 65001;

        /// <summary>Options of PgBackup's tools whose value is a file or folder path.</summary>
        private static readonly string[] PathOptions = { "--file=", "--use-list=" };

        public static bool IsAscii(string value) => value.All(c => c < 0x80);

        /// <summary>Whether <paramref name="value"/> reaches a tool unchanged in code page <paramref name="codePage"/> (its encoding <paramref name="ansi"/>, null when unknown).</summary>
        public static bool Survives(string value, bool isPath, int codePage, Encoding? ansi)
        {
            if (IsAscii(value) || codePage == Utf8CodePage) return true;
            if (!isPath || ansi is null) return false;
            try
            {
                var strict = (Encoding)ansi.Clone();
                strict.EncoderFallback = EncoderFallback.ExceptionFallback;
                strict.DecoderFallback = DecoderFallback.ExceptionFallback;
                return strict.GetString(strict.GetBytes(value)) == value;
            }
            catch (Exception e) when (e is ArgumentException || e is NotSupportedException || e is InvalidOperationException)
            {
                return false;
            }
        }

        /// <summary>Whether an argument is a path (an option that takes one, or a rooted path of its own).</summary>
        public static bool IsPathArgument(string argument, out string value)
        {
            foreach (var o in PathOptions)
                if (argument.StartsWith(o, StringComparison.Ordinal))
                {
                    value = argument.Substring(o.Length);
                    return true;
                }
            value = argument;
            return !argument.StartsWith("-", StringComparison.Ordinal) && (argument.IndexOf('\\') >= 0 || argument.IndexOf('/') >= 0) && IsRooted(argument);
        }

        private static bool IsRooted(string path) =>
            path.StartsWith("\\\\", StringComparison.Ordinal) || path.StartsWith("/", StringComparison.Ordinal) ||
            (path.Length >= 3 && char.IsLetter(path[0]) && path[1] == ':' && (path[2] == '\\' || path[2] == '/'));

        /// <summary>
        /// Throws ArgumentNotRepresentable for the first argument or environment value that would not reach
        /// <paramref name="tool"/> unchanged. Messages name the argument (redacted) or the variable, never a secret's value.
        /// </summary>
        public static void Check(string tool, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment,
            int codePage, Encoding? ansi, Redactor redactor)
        {
            if (codePage == Utf8CodePage) return;
            foreach (var a in arguments)
            {
                bool isPath = IsPathArgument(a, out var value);
                if (!Survives(value, isPath, codePage, ansi))
                    throw Refusal(tool, $"the argument {redactor.Redact(a)}", isPath, codePage);
            }
            if (environment is null) return;
            foreach (var kv in environment)
                if (kv.Value is not null && !Survives(kv.Value, false, codePage, ansi))
                    throw Refusal(tool, kv.Key == "PGPASSWORD" ? "the password" : "the environment variable " + kv.Key, false, codePage);
        }

        private static PgBackupException Refusal(string tool, string what, bool isPath, int codePage) =>
            new PgBackupException(ErrorIds.ArgumentNotRepresentable, ErrorKind.InvalidArgument,
                $"{what} holds characters that {Path.GetFileName(tool)} cannot receive on this machine: Windows hands PostgreSQL's tools their " +
                $"arguments and environment in the ANSI code page ({codePage}), " + (isPath ? "which cannot write this path." : "which is not UTF-8, so the characters would reach the server changed.") +
                " Nothing was run.", what)
            {
                RecommendedAction = isPath
                    ? "Use a folder whose path has only characters of the system's code page (for example TEMP or -Path), or switch Windows to UTF-8 for non-Unicode programs."
                    : "Use ASCII (a table pattern may use ? for one character), or switch Windows to UTF-8 for non-Unicode programs (Region > Administrative > Change system locale > \"Beta: Use Unicode UTF-8 for worldwide language support\"), which makes the ANSI code page 65001.",
            };

        [DllImport("kernel32.dll")]
        private static extern int GetACP();

        /// <summary>This machine's ANSI code page and its encoding (null when this runtime has none for it); Windows only.</summary>
        public static (int CodePage, Encoding? Encoding) Current()
        {
            int cp = GetACP();
            Encoding? e = null;
            try
            {
#if NETSTANDARD2_0
                e = Encoding.GetEncoding(cp);   // .NET Framework has every code page; .NET 6/7 without a provider: null below
#else
                e = CodePagesEncodingProvider.Instance.GetEncoding(cp) ?? Encoding.GetEncoding(cp);
#endif
            }
            catch (Exception x) when (x is ArgumentException || x is NotSupportedException) { }
            return (cp, e);
        }
    }

    /// <summary>
    /// The first bytes a child reads on its redirected stdin. .NET Framework's Process wraps that pipe in a
    /// StreamWriter with <c>Console.InputEncoding</c> and sets AutoFlush, which writes the encoding's preamble at once:
    /// with the console on code page 65001 (chcp 65001, or Windows' "use Unicode UTF-8" option) pg_restore then reads
    /// EF BB BF before PGDMP. .NET removes the preamble; netstandard2.0 has no StandardInputEncoding. So on .NET
    /// Framework, for the moment Process.Start runs, Console.InputEncoding is given the same code page without a
    /// preamble (the console's code page does not change) and then put back.
    /// </summary>
    public static class ChildStdin
    {
        private static readonly object Gate = new object();

        /// <summary>Whether a child started now would read <paramref name="consoleInputEncoding"/>'s preamble first.</summary>
        public static bool WritesPreamble(string frameworkDescription, Encoding consoleInputEncoding) =>
            TlsPolicy.IsNetFramework(frameworkDescription) && consoleInputEncoding.GetPreamble().Length > 0;

        /// <summary>The same code page without a preamble.</summary>
        public static Encoding WithoutPreamble(Encoding encoding) => encoding.CodePage switch
        {
            65001 => new UTF8Encoding(false),
            1200 => new UnicodeEncoding(bigEndian: false, byteOrderMark: false),
            1201 => new UnicodeEncoding(bigEndian: true, byteOrderMark: false),
            12000 => new UTF32Encoding(bigEndian: false, byteOrderMark: false),
            _ => encoding,
        };

        /// <summary>Runs <paramref name="start"/> (Process.Start) so that a redirected stdin starts with the data, not a BOM.</summary>
        public static void Start(Action start, bool redirectsStdin)
        {
            if (!redirectsStdin) { start(); return; }
            Encoding current;
            try { current = Console.InputEncoding; }
            catch (Exception e) when (e is IOException || e is InvalidOperationException) { start(); return; }
            if (!WritesPreamble(RuntimeInformation.FrameworkDescription, current)) { start(); return; }
            lock (Gate)
            {
                bool swapped = false;
                try { Console.InputEncoding = WithoutPreamble(current); swapped = true; }
                catch (Exception e) when (e is IOException || e is ArgumentException || e is System.Security.SecurityException) { }
                try { start(); }
                finally
                {
                    if (swapped)
                        try { Console.InputEncoding = current; }
                        catch (Exception e) when (e is IOException || e is ArgumentException || e is System.Security.SecurityException) { }
                }
            }
        }
    }
}
