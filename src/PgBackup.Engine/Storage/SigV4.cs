using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace PgBackup
{
    /// <summary>
    /// AWS Signature Version 4 for a request signed in its Authorization header: canonical request, string to sign,
    /// derived key, signature. Used by <see cref="S3Direct"/>; every other request goes through the AWS SDK, which
    /// signs its own requests. Checked against AWS's published test-suite signatures and against the real gateway.
    /// </summary>
    internal static class SigV4
    {
        public const string Algorithm = "AWS4-HMAC-SHA256";

        /// <summary>The SHA-256 of an empty payload (lower-case hex).</summary>
        public const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

        /// <summary>
        /// The Authorization header's value. <paramref name="headers"/>: every signed header, names in lower case, one
        /// of them <c>x-amz-date</c> (yyyyMMddTHHmmssZ); <paramref name="canonicalPath"/> and
        /// <paramref name="canonicalQuery"/> as sent (already URI-encoded, query sorted by name).
        /// </summary>
        public static string Authorization(string accessKey, string secretKey, string region, string service, string method,
            string canonicalPath, string canonicalQuery, IEnumerable<KeyValuePair<string, string>> headers, string payloadHash)
        {
            var sorted = headers.OrderBy(h => h.Key, StringComparer.Ordinal).ToList();
            string amzDate = sorted.First(h => h.Key == "x-amz-date").Value;
            string signedHeaders = string.Join(";", sorted.Select(h => h.Key));
            var canonical = new StringBuilder(256)
                .Append(method).Append('\n').Append(canonicalPath).Append('\n').Append(canonicalQuery).Append('\n');
            foreach (var h in sorted) canonical.Append(h.Key).Append(':').Append(h.Value.Trim()).Append('\n');
            canonical.Append('\n').Append(signedHeaders).Append('\n').Append(payloadHash);

            var canonicalBytes = Encoding.UTF8.GetBytes(canonical.ToString());
            string scope = amzDate.Substring(0, 8) + "/" + region + "/" + service + "/aws4_request";
            string toSign = Algorithm + "\n" + amzDate + "\n" + scope + "\n" + Hex(Sha256(canonicalBytes, 0, canonicalBytes.Length));
            byte[] key = Encoding.UTF8.GetBytes("AWS4" + secretKey);
            foreach (var part in new[] { amzDate.Substring(0, 8), region, service, "aws4_request" }) key = Hmac(key, part);
            return Algorithm + " Credential=" + accessKey + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + Hex(Hmac(key, toSign));
        }

        /// <summary>URI-encodes a query value the way SigV4 wants: everything but A-Z a-z 0-9 - _ . ~ as %XX (UTF-8).</summary>
        public static string UriEncode(string value)
        {
            var sb = new StringBuilder(value.Length);
            foreach (byte b in Encoding.UTF8.GetBytes(value))
            {
                char c = (char)b;
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
                    sb.Append(c);
                else
                    sb.Append('%').Append(UpperHex[b >> 4]).Append(UpperHex[b & 15]);
            }
            return sb.ToString();
        }

        public static string PayloadHash(byte[] data, int offset, int count) => Hex(Sha256(data, offset, count));

        private const string UpperHex = "0123456789ABCDEF", LowerHex = "0123456789abcdef";

        private static byte[] Sha256(byte[] data, int offset, int count)
        {
            using var sha = SHA256.Create();
            return sha.ComputeHash(data, offset, count);
        }

        private static byte[] Hmac(byte[] key, string data)
        {
            using var hmac = new HMACSHA256(key);
            return hmac.ComputeHash(Encoding.UTF8.GetBytes(data));
        }

        private static string Hex(byte[] bytes)
        {
            var chars = new char[bytes.Length * 2];
            for (int i = 0; i < bytes.Length; i++)
            {
                chars[2 * i] = LowerHex[bytes[i] >> 4];
                chars[2 * i + 1] = LowerHex[bytes[i] & 15];
            }
            return new string(chars);
        }
    }
}
