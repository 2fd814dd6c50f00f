using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace PgBackup
{
    /// <summary>Reads a <c>.env</c> file the way the guide's scripts (and dotenv) do: KEY=value lines.</summary>
    public static class DotEnv
    {
        public static IReadOnlyDictionary<string, string> Parse(string text)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var rawLine in text.Split('\n'))
            {
                var line = rawLine.TrimEnd('\r').Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                if (line.StartsWith("export ", StringComparison.Ordinal)) line = line.Substring(7).TrimStart();
                int eq = line.IndexOf('=');
                if (eq <= 0) continue;
                string key = line.Substring(0, eq).Trim();
                string value = line.Substring(eq + 1).Trim();
                if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[value.Length - 1] == value[0])
                {
                    char quote = value[0];
                    value = value.Substring(1, value.Length - 2);
                    if (quote == '"') value = Unescape(value);
                }
                else
                {
                    // Unquoted values end at an inline comment.
                    int hash = value.IndexOf(" #", StringComparison.Ordinal);
                    if (hash >= 0) value = value.Substring(0, hash).TrimEnd();
                }
                result[key] = value;
            }
            return result;
        }

        private static string Unescape(string value)
        {
            var sb = new StringBuilder(value.Length);
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                if (c == '\\' && i + 1 < value.Length)
                {
                    char n = value[++i];
                    sb.Append(n switch { 'n' => '\n', 'r' => '\r', 't' => '\t', _ => n });
                }
                else sb.Append(c);
            }
            return sb.ToString();
        }

        /// <summary>The value of <paramref name="key"/> in <c>.env</c> in <paramref name="folder"/>, or null.</summary>
        public static string? Lookup(string folder, string key)
        {
            var path = Path.Combine(folder, ".env");
            if (!File.Exists(path)) return null;
            return Parse(File.ReadAllText(path)).TryGetValue(key, out var v) && v.Length > 0 ? v : null;
        }
    }

    /// <summary>Where a setting came from, so that verbose output can say so without showing it.</summary>
    public sealed class ResolvedSetting
    {
        public ResolvedSetting(string value, string source) { Value = value; Source = source; }
        public string Value { get; }
        public string Source { get; }

        /// <summary>
        /// An explicit value, else the environment variable, else the same key from <c>.env</c> in
        /// <paramref name="currentFolder"/>: the lookup order of the guide's scripts.
        /// </summary>
        public static ResolvedSetting? Resolve(string? explicitValue, string explicitName, string key, string currentFolder,
            Func<string, string?>? environment = null)
        {
            if (!string.IsNullOrEmpty(explicitValue)) return new ResolvedSetting(explicitValue!, explicitName);
            environment ??= Environment.GetEnvironmentVariable;
            var fromEnv = environment(key);
            if (!string.IsNullOrEmpty(fromEnv)) return new ResolvedSetting(fromEnv!, "$env:" + key);
            var fromFile = DotEnv.Lookup(currentFolder, key);
            if (fromFile is not null) return new ResolvedSetting(fromFile, key + " in " + Path.Combine(currentFolder, ".env"));
            return null;
        }
    }

    public static class ConnectionResolver
    {
        /// <summary>
        /// The connection to use: <paramref name="connectionString"/>, else <c>$env:DATABASE_URL</c>, else
        /// <c>DATABASE_URL</c> from <c>.env</c> in <paramref name="currentFolder"/>; then the credential's user and
        /// password override the string's.
        /// </summary>
        public static PgConnectionInfo Resolve(string? connectionString, string? user, string? password, string currentFolder,
            IOperationLog log, Func<string, string?>? environment = null)
        {
            var setting = ResolvedSetting.Resolve(connectionString, "-ConnectionString", "DATABASE_URL", currentFolder, environment)
                ?? throw new PgBackupException(ErrorIds.ConnectionStringMissing, ErrorKind.InvalidArgument,
                    "No connection string: give -ConnectionString, set $env:DATABASE_URL, or put DATABASE_URL in a .env file in the current folder.")
                {
                    RecommendedAction = "Pass -ConnectionString 'postgresql://user@host:5432/dbname' (and -Credential for the password).",
                };
            var info = PgConnectionInfo.Parse(setting.Value);
            if (!string.IsNullOrEmpty(user)) info = info.With("user", user);
            if (password is not null) info = info.WithPassword(password);
            log.Verbose($"Connection from {setting.Source}: {info}");
            return info;
        }
    }
}
