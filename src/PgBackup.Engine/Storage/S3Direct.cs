using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using System.Xml;
using System.Xml.Linq;

namespace PgBackup
{
    /// <summary>
    /// The requests of a backup's usual path (listings, the marker and manifest objects, a multipart upload and its
    /// parts, deletes), signed with SigV4 in the header and sent by PgBackup on an HttpClient of its own, instead of
    /// through the AWS SDK's request pipeline. For a backup to S3 that pipeline was most of the fixed cost (about
    /// 0.45 s of CPU in a 1,000-row backup, 1,800 of the 2,200 methods compiled more than for a local one) and, for
    /// the parts, 0.3-0.5 s of CPU more for the benchmark's 22 parts, on the cores that pg_dump and PostgreSQL need.
    /// <para>
    /// Only where the request is simple to get right: a custom endpoint (no AWS endpoint rules), path-style addressing,
    /// checksums only when required (the SDK's request then carries Content-MD5 and the signed SHA-256 of the body, as
    /// these do). Anywhere else <see cref="TryCreate"/> says why not, and the SDK makes every request. Any request that
    /// fails here is made again by the SDK, which then makes the rest of the connection's requests: its retries,
    /// corrections and errors (with their stable ids) stay the authority. The requests are checked against the SDK's
    /// own (the URL it would use) and against the real gateway in the tests.
    /// </para>
    /// </summary>
    internal sealed class S3Direct
    {
        /// <summary>Set to 1 to make every request through the AWS SDK (an escape hatch, and the benchmark's baseline).</summary>
        public const string DisableVariable = "PGBACKUP_S3_SDK";

        private readonly S3Connection _s3;
        private readonly string _scheme, _authority, _region;

        private S3Direct(S3Connection s3, string scheme, string authority, string region)
        {
            _s3 = s3;
            _scheme = scheme;
            _authority = authority;
            _region = region;
        }

        /// <summary>Direct requests for <paramref name="s3"/>, or null and why the SDK makes them all.</summary>
        public static S3Direct? TryCreate(S3Connection s3, string signingRegion, out string? why)
        {
            var options = s3.Options;
            var endpoint = options.EffectiveEndpointUrl;
            why = !options.ChecksumsWhenRequired ? "it adds its own checksums (-S3ChecksumMode WhenSupported, the default on AWS)"
                : Environment.GetEnvironmentVariable(DisableVariable) == "1" ? DisableVariable + "=1"
                : endpoint is null ? "AWS's endpoints are the SDK's to work out"
                : !options.UsesPathStyle ? "virtual-hosted-style addresses are the SDK's to work out"
                : null;
            if (why is not null) return null;
            var uri = new Uri(endpoint!);
            if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.UserInfo.Length > 0)
            {
                why = "the endpoint has a path, a query or a user";
                return null;
            }
            return new S3Direct(s3, uri.Scheme, uri.Authority, signingRegion);
        }

        /// <summary>The request path of an object (or of the bucket, with a null key), as sent and signed.</summary>
        internal static string PathOf(string bucket, string? key) =>
            "/" + SigV4.UriEncode(bucket) + (key is null ? "" : "/" + string.Join("/", key.Split('/').Select(SigV4.UriEncode)));

        /// <summary>The URL of an object, without a query (tests compare it with the SDK's).</summary>
        internal string UrlOf(string bucket, string key) => _scheme + "://" + _authority + PathOf(bucket, key);

        /// <summary>The region that signatures name.</summary>
        internal string SigningRegion => _region;

        // ---- the requests -------------------------------------------------------------------------------------------

        public async Task<S3ListPage> ListObjectsAsync(string bucket, string prefix, string? delimiter, string? continuationToken, int? maxKeys, CancellationToken ct)
        {
            var query = Query(("list-type", "2"), ("prefix", prefix), ("delimiter", delimiter), ("continuation-token", continuationToken),
                ("max-keys", maxKeys?.ToString(CultureInfo.InvariantCulture)));
            var root = Xml((await SendAsync(HttpMethod.Get, PathOf(bucket, null), query, null, 0, null, null, ct).ConfigureAwait(false)).Body, "ListBucketResult");
            var page = new S3ListPage();
            foreach (var o in Children(root, "Contents"))
                page.Objects.Add(new S3ListedObject(Text(o, "Key")!, long.Parse(Text(o, "Size") ?? "0", CultureInfo.InvariantCulture), Time(Text(o, "LastModified")) ?? DateTime.MinValue));
            foreach (var p in Children(root, "CommonPrefixes"))
                page.Prefixes.Add(Text(p, "Prefix")!);
            if (IsTrue(Text(root, "IsTruncated")))
            {
                page.NextToken = Text(root, "NextContinuationToken");
                // A listing cut short without the way on would look complete.
                if (string.IsNullOrEmpty(page.NextToken)) throw new InvalidDataException("The listing is truncated but has no NextContinuationToken.");
            }
            return page;
        }

        public async Task<S3UploadsPage> ListUploadsAsync(string bucket, string prefix, string? keyMarker, string? uploadIdMarker, CancellationToken ct)
        {
            var query = Query(("uploads", ""), ("prefix", prefix), ("key-marker", keyMarker), ("upload-id-marker", uploadIdMarker));
            var root = Xml((await SendAsync(HttpMethod.Get, PathOf(bucket, null), query, null, 0, null, null, ct).ConfigureAwait(false)).Body, "ListMultipartUploadsResult");
            var page = new S3UploadsPage { IsTruncated = IsTrue(Text(root, "IsTruncated")), NextKeyMarker = Text(root, "NextKeyMarker"), NextUploadIdMarker = Text(root, "NextUploadIdMarker") };
            foreach (var u in Children(root, "Upload"))
                page.Uploads.Add(new S3ListedUpload(Text(u, "Key")!, Text(u, "UploadId")!, Time(Text(u, "Initiated"))));
            return page;
        }

        public Task PutObjectAsync(string bucket, string key, byte[] data, int length, string? md5, IEnumerable<KeyValuePair<string, string>> headers, CancellationToken ct) =>
            SendAsync(HttpMethod.Put, PathOf(bucket, key), "", data, length, md5, headers, ct);

        public async Task<string> CreateUploadAsync(string bucket, string key, IEnumerable<KeyValuePair<string, string>> headers, CancellationToken ct)
        {
            var root = Xml((await SendAsync(HttpMethod.Post, PathOf(bucket, key), Query(("uploads", "")), null, 0, null, headers, ct).ConfigureAwait(false)).Body, "InitiateMultipartUploadResult");
            var id = Text(root, "UploadId");
            if (string.IsNullOrEmpty(id)) throw new InvalidDataException("The answer has no UploadId.");
            return id!;
        }

        /// <summary>Sends one part; returns its ETag.</summary>
        public async Task<string> UploadPartAsync(string bucket, string key, string uploadId, int partNumber, byte[] data, int length, string md5, CancellationToken ct)
        {
            var query = Query(("partNumber", partNumber.ToString(CultureInfo.InvariantCulture)), ("uploadId", uploadId));
            var etag = (await SendAsync(HttpMethod.Put, PathOf(bucket, key), query, data, length, md5, null, ct).ConfigureAwait(false)).ETag;
            if (string.IsNullOrEmpty(etag)) throw new HttpRequestException($"The server's answer to part {partNumber} has no ETag.");
            return etag!;
        }

        public async Task CompleteUploadAsync(string bucket, string key, string uploadId, IReadOnlyList<KeyValuePair<int, string>> parts, CancellationToken ct)
        {
            var xml = new StringBuilder("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
            foreach (var p in parts)
                xml.Append("<Part><PartNumber>").Append(p.Key.ToString(CultureInfo.InvariantCulture)).Append("</PartNumber><ETag>")
                   .Append(SecurityElementEscape(p.Value)).Append("</ETag></Part>");
            var body = Encoding.UTF8.GetBytes(xml.Append("</CompleteMultipartUpload>").ToString());
            // S3 may answer 200 and still fail: the error is then the body.
            Xml((await SendAsync(HttpMethod.Post, PathOf(bucket, key), Query(("uploadId", uploadId)), body, body.Length, null, null, ct).ConfigureAwait(false)).Body,
                "CompleteMultipartUploadResult");
        }

        public Task DeleteObjectAsync(string bucket, string key, CancellationToken ct) =>
            SendAsync(HttpMethod.Delete, PathOf(bucket, key), "", null, 0, null, null, ct);

        /// <summary>The headers of an upload's settings (server-side encryption, storage class), as the SDK sends them.</summary>
        public static List<KeyValuePair<string, string>> UploadHeaders(StoreOptions options, bool withStorageClass)
        {
            var headers = new List<KeyValuePair<string, string>>();
            if (options.ServerSideEncryption != S3ServerSideEncryption.None)
                headers.Add(new KeyValuePair<string, string>("x-amz-server-side-encryption", options.ServerSideEncryption == S3ServerSideEncryption.KMS ? "aws:kms" : "AES256"));
            if (options.KmsKeyId is not null) headers.Add(new KeyValuePair<string, string>("x-amz-server-side-encryption-aws-kms-key-id", options.KmsKeyId));
            if (withStorageClass && options.StorageClass is not null) headers.Add(new KeyValuePair<string, string>("x-amz-storage-class", options.StorageClass));
            return headers;
        }

        // ---- signing and sending ------------------------------------------------------------------------------------

        /// <summary>A canonical query (names sorted, names and values URI-encoded); parameters with a null value are left out.</summary>
        internal static string Query(params (string Name, string? Value)[] parameters) =>
            string.Join("&", parameters.Where(p => p.Value is not null)
                .Select(p => SigV4.UriEncode(p.Name) + "=" + SigV4.UriEncode(p.Value!))
                .OrderBy(p => p, StringComparer.Ordinal));

        private readonly struct Answer
        {
            public Answer(string? etag, byte[] body) { ETag = etag; Body = body; }
            public string? ETag { get; }
            public byte[] Body { get; }
        }

        private async Task<Answer> SendAsync(HttpMethod method, string path, string query, byte[]? body, int length, string? md5,
            IEnumerable<KeyValuePair<string, string>>? extraHeaders, CancellationToken ct)
        {
            string pathAndQuery = query.Length == 0 ? path : path + "?" + query;
            var uri = new Uri(_scheme + "://" + _authority + pathAndQuery);
            // The runtime must send the path and query exactly as they are signed (no re-escaping, no dot segments removed).
            if (uri.PathAndQuery != pathAndQuery) throw new NotSupportedException("the request's path would not be sent as signed");

            var credentials = await _s3.SigningCredentials().GetCredentialsAsync().ConfigureAwait(false);
            string payloadHash = body is null ? SigV4.EmptyPayloadHash : SigV4.PayloadHash(body, 0, length);
            var headers = new List<KeyValuePair<string, string>>
            {
                new KeyValuePair<string, string>("host", _authority),
                new KeyValuePair<string, string>("x-amz-content-sha256", payloadHash),
                new KeyValuePair<string, string>("x-amz-date", DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)),
            };
            if (md5 is not null) headers.Add(new KeyValuePair<string, string>("content-md5", md5));
            if (credentials.UseToken) headers.Add(new KeyValuePair<string, string>("x-amz-security-token", credentials.Token));
            if (extraHeaders is not null) headers.AddRange(extraHeaders);
            string authorization = SigV4.Authorization(credentials.AccessKey, credentials.SecretKey, _region, "s3", method.Method, path, query, headers, payloadHash);

            using var request = new HttpRequestMessage(method, uri);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body, 0, length);
                if (md5 is not null) request.Content.Headers.ContentMD5 = Convert.FromBase64String(md5);
            }
            request.Headers.Host = _authority;
            // .NET Framework would otherwise ask for "100 Continue" and wait for it before every body.
            request.Headers.ExpectContinue = false;
            foreach (var h in headers)
                if (h.Key.StartsWith("x-amz-", StringComparison.Ordinal)) request.Headers.TryAddWithoutValidation(h.Key, h.Value);
            request.Headers.TryAddWithoutValidation("Authorization", authorization);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(_s3.Options.TimeoutSeconds));
            using var response = await _s3.HttpClient.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            var content = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                string? code = null;
                try { code = content.Length > 0 ? Text(XDocument.Load(new MemoryStream(content)).Root!, "Code") : null; }
                catch (XmlException) { }
                throw new HttpRequestException($"The server answered {(int)response.StatusCode} {code ?? response.ReasonPhrase}.");
            }
            return new Answer(response.Headers.TryGetValues("ETag", out var etags) ? etags.FirstOrDefault() : null, content);
        }

        // ---- reading answers ------------------------------------------------------------------------------------------

        /// <summary>The answer's root element, which must be <paramref name="expected"/> (an Error, even with 200, throws).</summary>
        private static XElement Xml(byte[] body, string expected)
        {
            var root = XDocument.Load(new MemoryStream(body)).Root ?? throw new InvalidDataException("The answer is empty.");
            if (root.Name.LocalName == "Error") throw new HttpRequestException($"The server answered {Text(root, "Code")}: {Text(root, "Message")}");
            if (root.Name.LocalName != expected) throw new InvalidDataException($"The answer is a {root.Name.LocalName}, not a {expected}.");
            return root;
        }

        private static IEnumerable<XElement> Children(XElement e, string name) => e.Elements().Where(c => c.Name.LocalName == name);

        private static string? Text(XElement e, string name) => Children(e, name).FirstOrDefault()?.Value;

        private static bool IsTrue(string? text) => string.Equals(text?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

        private static DateTime? Time(string? text) =>
            text is not null && DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;

        private static string SecurityElementEscape(string text) =>
            text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
    }

    /// <summary>One page of an object listing (ListObjectsV2), whoever made the request.</summary>
    internal sealed class S3ListPage
    {
        public List<S3ListedObject> Objects { get; } = new List<S3ListedObject>();
        public List<string> Prefixes { get; } = new List<string>();
        /// <summary>The next page's token, or null on the last page.</summary>
        public string? NextToken { get; set; }
    }

    internal readonly struct S3ListedObject
    {
        public S3ListedObject(string key, long size, DateTime lastModifiedUtc) { Key = key; Size = size; LastModifiedUtc = lastModifiedUtc; }
        public string Key { get; }
        public long Size { get; }
        public DateTime LastModifiedUtc { get; }
    }

    /// <summary>One page of a listing of unfinished multipart uploads.</summary>
    internal sealed class S3UploadsPage
    {
        public List<S3ListedUpload> Uploads { get; } = new List<S3ListedUpload>();
        public bool IsTruncated { get; set; }
        public string? NextKeyMarker { get; set; }
        public string? NextUploadIdMarker { get; set; }
    }

    internal readonly struct S3ListedUpload
    {
        public S3ListedUpload(string key, string uploadId, DateTime? initiatedUtc) { Key = key; UploadId = uploadId; InitiatedUtc = initiatedUtc; }
        public string Key { get; }
        public string UploadId { get; }
        public DateTime? InitiatedUtc { get; }
    }
}
