using System;
using System.Text.RegularExpressions;

namespace PgBackup
{
    /// <summary>
    /// An Azure Blob Storage location: a storage account, a container and a blob-name prefix (empty, or ending in '/').
    /// Written <c>az://account/container/prefix/</c> or as the blob service's address,
    /// <c>https://account.blob.core.windows.net/container/prefix/</c> (any <c>account.blob.&lt;suffix&gt;</c> host, for
    /// sovereign clouds). The location keeps the form it was written in. A SAS token is never part of a location: an
    /// address with a query string (<c>?sv=...&amp;sig=...</c>) is refused without echoing it.
    /// </summary>
    public sealed class AzureLocation
    {
        public const string Scheme = "az://";
        private const string DefaultSuffix = "blob.core.windows.net";

        // Storage account names: 3-24 lower-case letters and digits. Containers: 3-63 lower-case letters, digits and
        // single hyphens, starting and ending with a letter or digit ('$root' and '$web' are the service's own).
        private static readonly Regex AccountPattern = new Regex(@"^[a-z0-9]{3,24}$", RegexOptions.Compiled | RegexOptions.CultureInvariant);
        private static readonly Regex ContainerPattern = new Regex(@"^(?:[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]|\$root|\$web)$", RegexOptions.Compiled | RegexOptions.CultureInvariant);

        private AzureLocation(string account, string container, string prefix, string? host)
        {
            Account = account;
            Container = container;
            Prefix = prefix;
            Host = host;
        }

        public string Account { get; }
        public string Container { get; }

        /// <summary>The blob-name prefix: "" for the container's top level, otherwise ending in '/'.</summary>
        public string Prefix { get; }

        /// <summary>The blob service's host when the location was written as an https:// address; null for az://.</summary>
        public string? Host { get; }

        /// <summary>The blob service's address when no endpoint is given: the https:// host, or the public cloud's.</summary>
        public Uri DefaultServiceUri => new Uri("https://" + (Host ?? Account + "." + DefaultSuffix) + "/");

        private string Root => Host is null ? Scheme + Account + "/" + Container + "/" : "https://" + Host + "/" + Container + "/";

        /// <summary>The location as users write it, always ending in '/'.</summary>
        public override string ToString() => Root + Prefix;

        /// <summary>Whether <paramref name="text"/> is meant as an Azure location: <c>az://</c>, or an http(s):// address.</summary>
        public static bool IsAzure(string? text) =>
            text is not null && (text.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
                                 || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                                 || text.StartsWith("http://", StringComparison.OrdinalIgnoreCase));

        /// <summary>Parses a location (a "folder"): <c>az://account/container</c>, <c>az://account/container/a/b/</c>, ...</summary>
        public static AzureLocation Parse(string uri)
        {
            var (account, container, name, host) = Split(uri);
            name = name.Trim('/');
            return new AzureLocation(account, container, name.Length == 0 ? "" : name + "/", host);
        }

        /// <summary>Splits the address of one backup into the location that holds it and its name there.</summary>
        public static (AzureLocation Location, string Name) ParseObject(string uri)
        {
            var (account, container, name, host) = Split(uri);
            name = name.TrimEnd('/');
            if (name.Length == 0)
                throw Invalid(uri, "it names a container, not a backup in it (az://account/container/prefix/backup_<db>_<time>.sql.gz)");
            int slash = name.LastIndexOf('/');
            var prefix = slash < 0 ? "" : name.Substring(0, slash + 1);
            return (new AzureLocation(account, container, prefix, host), name.Substring(slash + 1));
        }

        /// <summary>The blob name of <paramref name="name"/> (a name relative to this location).</summary>
        public string BlobName(string name) => Prefix + name;

        /// <summary>The address of <paramref name="name"/>, in the form the location was written.</summary>
        public string Uri(string name) => Root + Prefix + name;

        private static (string Account, string Container, string Name, string? Host) Split(string uri)
        {
            if (!IsAzure(uri)) throw Invalid(uri, "it does not start with az:// or https://");
            if (uri.IndexOf('?') >= 0 || uri.IndexOf('#') >= 0)
                throw Invalid(uri, "it has a query string (a SAS token?); give the SAS token with -AzureSasToken or $env:AZURE_STORAGE_SAS_TOKEN, never in the address");
            string account, rest;
            string? host = null;
            if (uri.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
            {
                rest = uri.Substring(Scheme.Length);
                int slash = rest.IndexOf('/');
                account = slash < 0 ? rest : rest.Substring(0, slash);
                rest = slash < 0 ? "" : rest.Substring(slash + 1);
            }
            else
            {
                if (!uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                    throw Invalid(uri, "only https:// addresses of a blob service are understood (for Azurite or another endpoint, write az://account/container/prefix/ and give -AzureEndpointUrl)");
                rest = uri.Substring("https://".Length);
                int slash = rest.IndexOf('/');
                host = (slash < 0 ? rest : rest.Substring(0, slash)).ToLowerInvariant();
                rest = slash < 0 ? "" : rest.Substring(slash + 1);
                int dot = host.IndexOf('.');
                if (dot < 0 || !host.Substring(dot + 1).StartsWith("blob.", StringComparison.Ordinal) || host.IndexOf(':') >= 0)
                    throw Invalid(uri, "its host is not a storage account's blob service (<account>.blob.core.windows.net)");
                account = host.Substring(0, dot);
                try { rest = System.Uri.UnescapeDataString(rest); }
                catch (UriFormatException) { throw Invalid(uri, "it has an invalid %-escape"); }
            }
            if (!AccountPattern.IsMatch(account))
                throw Invalid(uri, $"'{StoreName.Printable(account)}' is not a valid storage account name (3-24 lower-case letters and digits)");
            int cut = rest.IndexOf('/');
            var container = cut < 0 ? rest : rest.Substring(0, cut);
            var name = cut < 0 ? "" : rest.Substring(cut + 1);
            if (container.Length == 0) throw Invalid(uri, "it has no container name");
            if (!ContainerPattern.IsMatch(container))
                throw Invalid(uri, $"'{StoreName.Printable(container)}' is not a valid container name (3-63 lower-case letters, digits and single hyphens)");
            if (name.Contains("//")) throw Invalid(uri, "it has an empty folder name ('//')");
            foreach (char c in name)
                if (c < 32 || c == 127 || c == '\\')
                    throw Invalid(uri, "its blob name contains a control character or a backslash");
            foreach (var segment in name.Split('/'))
                if (segment == "." || segment == "..")
                    throw Invalid(uri, "its blob name contains '.' or '..' as a folder name");
            if (System.Text.Encoding.UTF8.GetByteCount(name) > 900) throw Invalid(uri, "its blob name is too long");
            return (account, container, name, host);
        }

        private static PgBackupException Invalid(string uri, string why)
        {
            // Never echo a query string: it may hold a SAS token's signature.
            int q = uri.IndexOfAny(new[] { '?', '#' });
            var shown = StoreName.Printable(q < 0 ? uri : uri.Substring(0, q) + "?...");
            return new PgBackupException(ErrorIds.AzureInvalidUri, ErrorKind.InvalidArgument, $"'{shown}' is not a valid Azure Blob Storage location: {why}.", shown)
            {
                RecommendedAction = "Write Azure locations as az://account/container/prefix/ or https://account.blob.core.windows.net/container/prefix/.",
            };
        }
    }
}
