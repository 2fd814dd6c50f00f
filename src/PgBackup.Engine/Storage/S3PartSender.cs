using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;

namespace PgBackup
{
    /// <summary>
    /// Sends the parts of one multipart upload as plain signed PUTs, without the AWS SDK's request pipeline. For the
    /// benchmark's 22 parts of 5 MiB the pipeline cost 0.3-0.5 s more CPU (1.6 s for 80 parts), most of it the runtime
    /// compiling the SDK's per-request code again once it is hot; on a 2-core machine that is wall time.
    /// <para>
    /// The SDK stays the authority: it resolves the part's URL and the signing scope (read from a presigned URL that it
    /// computes locally, without a request) and the credentials; this class only signs, with SigV4 in the headers, the
    /// request the SDK itself sends when checksums are sent only when required: Content-MD5 and the SHA-256 of the
    /// body, signed. So it is used only in that mode (S3-compatible endpoints; on AWS the SDK adds its CRC32 checksums
    /// and sends the parts itself), and <see cref="TryCreate"/> returns null when anything about the presigned URL is
    /// not as expected. A part it cannot send, for any reason, is sent again by the SDK (see S3UploadStream).
    /// </para>
    /// </summary>
    internal sealed class S3PartSender
    {
        /// <summary>Set to 1 to send every part through the AWS SDK (an escape hatch, and the benchmark's baseline).</summary>
        public const string DisableVariable = "PGBACKUP_S3_SDK_PARTS";

        private readonly S3Connection _s3;
        private readonly string _baseUrl, _authority, _path, _region, _service, _uploadIdQuery;

        private S3PartSender(S3Connection s3, string baseUrl, string authority, string path, string region, string service, string uploadId)
        {
            _s3 = s3;
            _baseUrl = baseUrl;
            _authority = authority;
            _path = path;
            _region = region;
            _service = service;
            _uploadIdQuery = "&uploadId=" + SigV4.UriEncode(uploadId);
        }

        /// <summary>A sender for the upload, or null (and <paramref name="why"/>) where the SDK must send the parts itself.</summary>
        public static S3PartSender? TryCreate(S3Connection s3, string bucket, string key, string uploadId, out string? why)
        {
            why = null;
            if (!s3.Options.ChecksumsWhenRequired)
            {
                why = "it adds its own checksums (-S3ChecksumMode WhenSupported, the default on AWS)";
                return null;
            }
            if (Environment.GetEnvironmentVariable(DisableVariable) == "1")
            {
                why = DisableVariable + "=1";
                return null;
            }
            try
            {
                var endpoint = s3.Options.EffectiveEndpointUrl;
                var url = s3.Client.GetPreSignedURL(new GetPreSignedUrlRequest
                {
                    BucketName = bucket,
                    Key = key,
                    Verb = HttpVerb.PUT,
                    UploadId = uploadId,
                    PartNumber = 1,
                    Expires = DateTime.UtcNow.AddMinutes(15),
                    Protocol = endpoint is not null && endpoint.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? Protocol.HTTP : Protocol.HTTPS,
                });
                var sender = FromPresignedUrl(s3, url, uploadId);
                if (sender is null) why = "its presigned URL for the part is not of the form this module signs (or the runtime would change its path)";
                return sender;
            }
            catch (Exception e)
            {
                why = s3.Redact("working out the part's URL failed: " + e.Message);
                return null;
            }
        }

        internal static S3PartSender? FromPresignedUrl(S3Connection s3, string url, string uploadId)
        {
            int q = url.IndexOf('?');
            int hostStart = url.IndexOf("://", StringComparison.Ordinal) + 3;
            if (q < 0 || hostStart < 3) return null;
            string baseUrl = url.Substring(0, q);
            int pathStart = baseUrl.IndexOf('/', hostStart);
            string authority = pathStart < 0 ? baseUrl.Substring(hostStart) : baseUrl.Substring(hostStart, pathStart - hostStart);
            string path = pathStart < 0 ? "/" : baseUrl.Substring(pathStart);
            if (pathStart < 0) baseUrl += "/";

            var query = url.Substring(q + 1).Split('&').Select(p => p.Split(new[] { '=' }, 2))
                .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "", StringComparer.Ordinal);
            if (!query.TryGetValue("X-Amz-Algorithm", out var algorithm) || algorithm != SigV4.Algorithm) return null;
            if (!query.TryGetValue("X-Amz-Credential", out var credential)) return null;
            var scope = credential.Split('/');
            if (scope.Length != 5 || scope[4] != "aws4_request") return null;

            // The SDK signed with the credentials this sender will use, or the sender stands aside.
            var credentials = s3.SigningCredentials().GetCredentials();
            query.TryGetValue("X-Amz-Security-Token", out var token);
            if (scope[0] != credentials.AccessKey || (token ?? "") != (credentials.UseToken ? credentials.Token : "")) return null;

            var sender = new S3PartSender(s3, baseUrl, authority, path, scope[2], scope[3], uploadId);
            // The runtime must send the path and query exactly as they are signed (no re-escaping).
            string sample = sender.Query(1);
            if (new Uri(baseUrl + "?" + sample).PathAndQuery != path + "?" + sample) return null;
            return sender;
        }

        private string Query(int partNumber) => "partNumber=" + partNumber.ToString(CultureInfo.InvariantCulture) + _uploadIdQuery;

        /// <summary>Sends one part; returns its ETag. Throws on any failure (the caller lets the SDK send it).</summary>
        public async Task<string> SendAsync(int partNumber, byte[] data, int length, string md5Base64, CancellationToken ct)
        {
            var credentials = await _s3.SigningCredentials().GetCredentialsAsync().ConfigureAwait(false);
            string query = Query(partNumber);
            string amzDate = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            string payloadHash = SigV4.PayloadHash(data, 0, length);
            var headers = new List<KeyValuePair<string, string>>
            {
                new KeyValuePair<string, string>("content-md5", md5Base64),
                new KeyValuePair<string, string>("host", _authority),
                new KeyValuePair<string, string>("x-amz-content-sha256", payloadHash),
                new KeyValuePair<string, string>("x-amz-date", amzDate),
            };
            if (credentials.UseToken) headers.Add(new KeyValuePair<string, string>("x-amz-security-token", credentials.Token));
            string authorization = SigV4.Authorization(credentials.AccessKey, credentials.SecretKey, _region, _service, "PUT", _path, query, headers, payloadHash);

            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_baseUrl + "?" + query)) { Content = new ByteArrayContent(data, 0, length) };
            request.Content.Headers.ContentMD5 = Convert.FromBase64String(md5Base64);
            request.Headers.Host = _authority;
            // .NET Framework would otherwise ask for "100 Continue" and wait for it before every part.
            request.Headers.ExpectContinue = false;
            foreach (var h in headers)
                if (h.Key.StartsWith("x-amz-", StringComparison.Ordinal)) request.Headers.TryAddWithoutValidation(h.Key, h.Value);
            request.Headers.TryAddWithoutValidation("Authorization", authorization);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(_s3.Options.TimeoutSeconds));
            using var response = await _s3.PartClient.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"The server answered {(int)response.StatusCode} {response.ReasonPhrase} to part {partNumber}.");
            if (!response.Headers.TryGetValues("ETag", out var etags) || string.IsNullOrEmpty(etags.FirstOrDefault()))
                throw new HttpRequestException($"The server's answer to part {partNumber} has no ETag.");
            return etags.First();
        }
    }
}
