using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace PgBackup
{
    /// <summary>
    /// Removes secrets from text that leaves the engine (verbose lines, captured stderr, error messages).
    /// Known secrets are replaced wherever they appear; passwords inside URIs and key=value strings, SAS signatures
    /// (<c>sig=</c>) and connection strings' account keys are replaced even when not known.
    /// </summary>
    public sealed class Redactor
    {
        public const string Mask = "********";
        private static readonly Regex UriPassword = new Regex(@"(?<=://[^:/@\s]*:)[^@\s]+(?=@)", RegexOptions.Compiled);
        private static readonly Regex KeyValuePassword = new Regex(@"(?<=\b(?:password|sslpassword|PGPASSWORD)\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", RegexOptions.Compiled | RegexOptions.IgnoreCase);
        // Azure: a SAS token's signature (in an address or a connection string), an account key in a connection string.
        private static readonly Regex SasSignature = new Regex(@"(?<=\bsig=)[^&\s;""']+", RegexOptions.Compiled | RegexOptions.IgnoreCase);
        private static readonly Regex ConnectionStringKey = new Regex(@"(?<=\b(?:AccountKey|SharedAccessSignature)\s*=)[^;\s""']+", RegexOptions.Compiled | RegexOptions.IgnoreCase);
        private readonly string[] _secrets;

        public Redactor(IEnumerable<string?> secrets)
        {
            // Longest first, so that a secret containing another is masked whole. Short secrets too, wherever they
            // appear: a message made hard to read is better than a password shown.
            _secrets = secrets.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).Distinct().OrderByDescending(s => s.Length).ToArray();
        }

        public static readonly Redactor None = new Redactor(Array.Empty<string>());

        public string Redact(string? text)
        {
            if (string.IsNullOrEmpty(text)) return text ?? "";
            var result = text!;
            foreach (var s in _secrets) result = result.Replace(s, Mask);
            result = UriPassword.Replace(result, Mask);
            result = KeyValuePassword.Replace(result, Mask);
            result = SasSignature.Replace(result, Mask);
            result = ConnectionStringKey.Replace(result, Mask);
            return result;
        }
    }
}
