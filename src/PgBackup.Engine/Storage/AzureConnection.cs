using System;
using System.IO;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;

namespace PgBackup
{
    /// <summary>Where the credential for an Azure location comes from (<see cref="AzureConnection.Choose"/>).</summary>
    internal enum AzureCredentialKind
    {
        SasToken,
        ConnectionString,
        AccountKey,
        /// <summary>Microsoft Entra ID through Azure.Identity's chain: environment, workload identity, managed identity, az login...</summary>
        DefaultAzureCredential,
    }

    /// <summary>The credential chosen for a location: its kind, the secret (none for Entra ID) and where it came from, for messages.</summary>
    internal sealed class AzureCredentialChoice
    {
        public AzureCredentialChoice(AzureCredentialKind kind, string? secret, string source)
        {
            Kind = kind;
            Secret = secret;
            Source = source;
        }

        public AzureCredentialKind Kind { get; }
        public string? Secret { get; }
        /// <summary>The parameter or environment variable it came from (never the secret itself).</summary>
        public string Source { get; }
        public override string ToString() => Source;
    }

    /// <summary>
    /// A container client made from <see cref="StoreOptions"/>, and the one place where the Azure SDK's exceptions become
    /// PgBackup errors with stable ids. No Azure type leaves the engine.
    /// <para>
    /// Credentials, in this order: a SAS token, connection string or account key given as a parameter; else
    /// <c>AZURE_STORAGE_CONNECTION_STRING</c>, <c>AZURE_STORAGE_SAS_TOKEN</c>, <c>AZURE_STORAGE_KEY</c> (the names the
    /// Azure CLI reads); else <c>DefaultAzureCredential</c> (managed identity in Azure Automation and on Azure VMs,
    /// environment credentials, workload identity, <c>az login</c>, <c>Connect-AzAccount</c>).
    /// </para>
    /// </summary>
    internal sealed class AzureConnection : StoreConnection
    {
        public const string ConnectionStringVariable = "AZURE_STORAGE_CONNECTION_STRING";
        public const string SasTokenVariable = "AZURE_STORAGE_SAS_TOKEN";
        public const string AccountKeyVariable = "AZURE_STORAGE_KEY";

        private readonly Redactor _redactor;

        public AzureConnection(AzureLocation location, StoreOptions options)
            : this(location, options, Choose(options, Environment.GetEnvironmentVariable)) { }

        internal AzureConnection(AzureLocation location, StoreOptions options, AzureCredentialChoice credential)
            : base(options)
        {
            Credential = credential;
            var secret = credential.Secret;
            _redactor = new Redactor(new[] { secret, secret?.TrimStart('?') });
            var clientOptions = new BlobClientOptions();
            clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds);
            if (options.MaxErrorRetry.HasValue) clientOptions.Retry.MaxRetries = options.MaxErrorRetry.Value;
            clientOptions.Diagnostics.ApplicationId = "PgBackup";
            clientOptions.Diagnostics.IsDistributedTracingEnabled = false;
            // Request and response lines in the SDK's own logs (an EventSource the user would have to listen to) carry no secrets either.
            clientOptions.Diagnostics.IsLoggingContentEnabled = false;

            BlobServiceClient service;
            if (credential.Kind == AzureCredentialKind.ConnectionString)
            {
                if (options.AzureEndpointUrl is not null)
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"A connection string ({credential.Source}) names its own endpoint (BlobEndpoint=...); give either it or -AzureEndpointUrl, not both.");
                try { service = new BlobServiceClient(secret, clientOptions); }
                catch (Exception e) when (e is FormatException || e is ArgumentException || e is InvalidOperationException)
                {
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"The Azure Storage connection string ({credential.Source}) is not valid: {_redactor.Redact(Redact(e.Message))}");
                }
                if (!string.Equals(service.AccountName, location.Account, StringComparison.Ordinal))
                    throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                        $"The connection string ({credential.Source}) is for the storage account '{service.AccountName}', not '{location.Account}' of {location}; nothing was read or written.", location.ToString())
                    { RecommendedAction = "Give the connection string of the location's account, or another credential (-AzureSasToken, -AzureAccountKey)." };
            }
            else
            {
                var endpoint = options.AzureEndpointUrl is not null ? new Uri(options.AzureEndpointUrl.TrimEnd('/') + "/") : location.DefaultServiceUri;
                if (credential.Kind == AzureCredentialKind.DefaultAzureCredential && endpoint.Scheme != Uri.UriSchemeHttps)
                    throw new PgBackupException(ErrorIds.AzureAccessDenied, ErrorKind.AuthenticationError,
                        $"No SAS token, connection string or account key was given for {location}, so DefaultAzureCredential (Microsoft Entra ID) would be used, and its tokens are sent only over https; {endpoint.GetLeftPart(UriPartial.Path)} is plain http. Nothing was read or written.", location.ToString())
                    { RecommendedAction = "Give -AzureSasToken, -AzureConnectionString or -AzureAccountKey (or AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY), or an https:// -AzureEndpointUrl." };
                service = credential.Kind switch
                {
                    AzureCredentialKind.SasToken => new BlobServiceClient(endpoint, new AzureSasCredential(secret!.TrimStart('?')), clientOptions),
                    AzureCredentialKind.AccountKey => new BlobServiceClient(endpoint, new StorageSharedKeyCredential(location.Account, secret), clientOptions),
                    _ => new BlobServiceClient(endpoint, new DefaultAzureCredential(new DefaultAzureCredentialOptions { ExcludeInteractiveBrowserCredential = true }), clientOptions),
                };
            }
            Container = service.GetBlobContainerClient(location.Container);
            var uri = service.Uri;
            Endpoint = uri.GetLeftPart(UriPartial.Path).TrimEnd('/'); // never with a query string (a SAS)
        }

        /// <summary>The credential for <paramref name="options"/>, in the order of the class summary.</summary>
        internal static AzureCredentialChoice Choose(StoreOptions options, Func<string, string?> environment)
        {
            if (options.AzureSasToken is not null) return new AzureCredentialChoice(AzureCredentialKind.SasToken, options.AzureSasToken, "-AzureSasToken");
            if (options.AzureConnectionString is not null) return new AzureCredentialChoice(AzureCredentialKind.ConnectionString, options.AzureConnectionString, "-AzureConnectionString");
            if (options.AzureAccountKey is not null) return new AzureCredentialChoice(AzureCredentialKind.AccountKey, options.AzureAccountKey, "-AzureAccountKey");
            string? Env(string name) { var v = environment(name); return string.IsNullOrWhiteSpace(v) ? null : v!.Trim(); }
            if (Env(ConnectionStringVariable) is { } cs) return new AzureCredentialChoice(AzureCredentialKind.ConnectionString, cs, "$env:" + ConnectionStringVariable);
            if (Env(SasTokenVariable) is { } sas) return new AzureCredentialChoice(AzureCredentialKind.SasToken, sas, "$env:" + SasTokenVariable);
            if (Env(AccountKeyVariable) is { } key) return new AzureCredentialChoice(AzureCredentialKind.AccountKey, key, "$env:" + AccountKeyVariable);
            return new AzureCredentialChoice(AzureCredentialKind.DefaultAzureCredential, null, "DefaultAzureCredential (managed identity, environment, az login)");
        }

        public AzureCredentialChoice Credential { get; }
        public BlobContainerClient Container { get; }
        /// <summary>The blob service's address (without any query string), for messages.</summary>
        public string Endpoint { get; }

        /// <summary>Masks SAS signatures and account keys in text that may quote a request or a connection string.</summary>
        internal static string Redact(string text) => Redactor.None.Redact(text);

        private string Say(string text) => Redact(_redactor.Redact(text));

        public override string UploadFailedId => ErrorIds.AzureUploadFailed;

        /// <summary>An SDK, credential or network failure as a PgBackup error with a stable id (never with a secret in it).</summary>
        public override PgBackupException Map(Exception e, string what, string target, bool write)
        {
            while (e is AggregateException a && a.InnerExceptions.Count > 0) e = a.InnerExceptions[a.InnerExceptions.Count - 1];
            if (e is PgBackupException p) return p;
            string failedId = write ? UploadFailedId : ErrorIds.AzureRequestFailed;
            var credentialHint = Credential.Kind == AzureCredentialKind.DefaultAzureCredential
                ? "No SAS token, connection string or account key was given, so DefaultAzureCredential was used: give the managed identity (or the signed-in account) the role 'Storage Blob Data Contributor' on the container, or give -AzureSasToken, -AzureConnectionString or -AzureAccountKey (or AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY)."
                : $"Check the credential from {Credential.Source}: the account's key, or a SAS token that is not expired and allows read, add, create, write, delete and list on the container.";

            if (e is RequestFailedException r && r.Status != 0)
            {
                var code = r.ErrorCode ?? "";
                var detail = $"{r.Status} {code}".Trim() + (FirstLine(r.Message) is { Length: > 0 } m ? ": " + m : "");
                switch (code)
                {
                    case "ContainerNotFound":
                        return new PgBackupException(ErrorIds.AzureContainerNotFound, ErrorKind.ObjectNotFound,
                            Say($"The container of {target} does not exist at {Endpoint} ({detail})."), target, e)
                        { RecommendedAction = "Check the container's name and -AzureEndpointUrl; PgBackup does not create containers." };
                    case "BlobNotFound":
                        return new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, Say($"{target} does not exist."), target, e);
                    case "BlobImmutableDueToPolicy":
                    case "BlobImmutableDueToLegalHold":
                    case "ContainerImmutableDueToPolicy":
                        return new PgBackupException(ErrorIds.AzureBlobImmutable, ErrorKind.PermissionDenied,
                            Say($"Could not {what} {target}: it is under {(code.EndsWith("LegalHold", StringComparison.Ordinal) ? "a legal hold" : "an immutability policy")} ({detail}); it was kept."), target, e)
                        { RecommendedAction = "Immutable blobs can be removed only when their retention period has ended or their legal hold is cleared; shorten the retention policy so that it does not ask for the removal of blobs still under the policy." };
                    case "AuthenticationFailed":
                    case "InvalidAuthenticationInfo":
                    case "NoAuthenticationInformation":
                        return new PgBackupException(ErrorIds.AzureAccessDenied, ErrorKind.AuthenticationError,
                            Say($"{Endpoint} refused the credentials ({Credential.Source}) while trying to {what} {target} ({detail})."), target, e)
                        { RecommendedAction = credentialHint };
                }
                if (r.Status == 401 || r.Status == 403)
                    return new PgBackupException(ErrorIds.AzureAccessDenied, ErrorKind.PermissionDenied,
                        Say($"Access denied ({Credential.Source}): could not {what} {target} ({detail})."), target, e)
                    { RecommendedAction = credentialHint };
                if (r.Status == 404)
                    return new PgBackupException(ErrorIds.PathNotFound, ErrorKind.ObjectNotFound, Say($"{target} does not exist ({detail})."), target, e);
                return new PgBackupException(failedId, write ? ErrorKind.WriteError : ErrorKind.ReadError, Say($"Could not {what} {target}: {detail}"), target, e);
            }
            if (e is AuthenticationFailedException || (e is InvalidOperationException && e.Message.IndexOf("Bearer token", StringComparison.OrdinalIgnoreCase) >= 0))
                return new PgBackupException(ErrorIds.AzureAccessDenied, ErrorKind.AuthenticationError,
                    Say($"No Microsoft Entra credential for {target} ({Credential.Source}): {FirstLine(e.Message)}"), target, e)
                { RecommendedAction = credentialHint };
            if (IsTimeout(e))
                return new PgBackupException(failedId, ErrorKind.OperationTimeout,
                    Say($"Could not {what} {target}: {Endpoint} did not answer within {Options.TimeoutSeconds} s (-S3TimeoutSeconds)."), target, e)
                { RecommendedAction = "Check the network; on a very slow link give a larger -S3TimeoutSeconds." };
            if (e is RequestFailedException || e is HttpRequestException || e is IOException || e is System.Net.Sockets.SocketException || e is OperationCanceledException)
                return new PgBackupException(failedId, ErrorKind.ConnectionError,
                    Say($"Could not {what} {target}: the connection to {Endpoint} failed: {Innermost(e)}"), target, e)
                { RecommendedAction = "Check the network and -AzureEndpointUrl; run the command again." };
            return new PgBackupException(failedId, write ? ErrorKind.WriteError : ErrorKind.ReadError, Say($"Could not {what} {target}: {FirstLine(e.Message)}"), target, e);
        }

        private static string FirstLine(string? text)
        {
            if (string.IsNullOrEmpty(text)) return "";
            int n = text!.IndexOfAny(new[] { '\r', '\n' });
            return (n < 0 ? text : text.Substring(0, n)).Trim();
        }

        private static string Innermost(Exception e)
        {
            var messages = FirstLine(e.Message);
            for (var x = e.InnerException; x is not null; x = x.InnerException)
            {
                var m = FirstLine(x.Message);
                if (m.Length > 0 && messages.IndexOf(m, StringComparison.Ordinal) < 0) messages += " " + m;
            }
            return messages;
        }
    }
}
