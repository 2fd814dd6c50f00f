using System.Collections.Generic;
using System.Text;

namespace PgBackup.TestHarness
{
    /// <summary>How Windows programs split a command line into arguments (for tests on any platform).</summary>
    public static class WindowsArgv
    {
        /// <summary>
        /// A reference splitter by the documented rules of the Microsoft C runtime (UCRT parse_cmdline, "Parsing C++
        /// command-line arguments") and of CommandLineToArgvW, for the part after the program name: blanks separate;
        /// quotes group; 2n backslashes before a quote give n and the quote delimits; 2n+1 give n and a literal quote;
        /// other backslashes are literal. The two differ only on a doubled quote inside quotes: the C runtime keeps a
        /// literal quote and stays quoted; CommandLineToArgvW keeps a literal quote and leaves the quoted part.
        /// </summary>
        public static List<string> Split(string commandLine, bool commandLineToArgvW)
        {
            var args = new List<string>();
            int i = 0, n = commandLine.Length;
            while (true)
            {
                while (i < n && (commandLine[i] == ' ' || commandLine[i] == '\t')) i++;
                if (i >= n) return args;
                var sb = new StringBuilder();
                bool quoted = false;
                while (i < n)
                {
                    char c = commandLine[i];
                    if ((c == ' ' || c == '\t') && !quoted) break;
                    if (c == '\\')
                    {
                        int slashes = 0;
                        while (i < n && commandLine[i] == '\\') { slashes++; i++; }
                        if (i < n && commandLine[i] == '"')
                        {
                            sb.Append('\\', slashes / 2);
                            if (slashes % 2 == 1) { sb.Append('"'); i++; }
                        }
                        else sb.Append('\\', slashes);
                        continue;
                    }
                    if (c == '"')
                    {
                        if (quoted && i + 1 < n && commandLine[i + 1] == '"')
                        {
                            sb.Append('"');
                            i += 2;
                            if (commandLineToArgvW) quoted = false;
                            continue;
                        }
                        quoted = !quoted;
                        i++;
                        continue;
                    }
                    sb.Append(c);
                    i++;
                }
                args.Add(sb.ToString());
            }
        }
    }
}
