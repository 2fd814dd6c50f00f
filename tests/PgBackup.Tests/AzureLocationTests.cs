using System;
using System.Collections.Generic;
using Azure;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>Azure locations, the choice of credential, and the mapping of the SDK's failures (no server needed).</summary>
    public sealed class AzureLocationTests
    {
        [Theory]
        [InlineData("az://acct1/backups", "acct1", "backups", "", "az://acct1/backups/")]
        [InlineData("AZ://acct1/backups/pg/prod/", "acct1", "backups", "pg/prod/", "az://acct1/backups/pg/prod/")]
        [InlineData("https://acct1.blob.core.windows.net/backups/pg", "acct1", "backups", "pg/", "https://acct1.blob.core.windows.net/backups/pg/")]
        [InlineData("https://ACCT1.blob.core.usgovcloudapi.net/backups/Prod%20DB/", "acct1", "backups", "Prod DB/", "https://acct1.blob.core.usgovcloudapi.net/backups/Prod DB/")]
        public void ParsesLocations(string uri, string account, string container, string prefix, string normal)
        {
            var l = AzureLocation.Parse(uri);
            Assert.Equal(account, l.Account);
            Assert.Equal(container, l.Container);
            Assert.Equal(prefix, l.Prefix);
            Assert.Equal(normal, l.ToString());
            Assert.Equal(prefix + "backup_x_20260101_000000.sql.gz", l.BlobName("backup_x_20260101_000000.sql.gz"));
        }

        [Fact]
        public void DefaultServiceIsTheAccountsOwnOrTheAddressHost()
        {
            Assert.Equal("https://acct1.blob.core.windows.net/", AzureLocation.Parse("az://acct1/c01/").DefaultServiceUri.ToString());
            Assert.Equal("https://acct1.blob.core.chinacloudapi.cn/", AzureLocation.Parse("https://acct1.blob.core.chinacloudapi.cn/c01/").DefaultServiceUri.ToString());
        }

        [Theory]
        [InlineData("az://acct1/c01/p/backup_app_20260101_030000.sql.gz", "az://acct1/c01/p/", "backup_app_20260101_030000.sql.gz")]
        [InlineData("az://acct1/c01/backup_app_20260101_030000.dir/", "az://acct1/c01/", "backup_app_20260101_030000.dir")]
        [InlineData("https://acct1.blob.core.windows.net/c01/a/backup_app_20260101_030000.dump", "https://acct1.blob.core.windows.net/c01/a/", "backup_app_20260101_030000.dump")]
        public void SplitsBlobAddresses(string uri, string location, string name)
        {
            var (l, n) = AzureLocation.ParseObject(uri);
            Assert.Equal(location, l.ToString());
            Assert.Equal(name, n);
            Assert.Equal(uri.TrimEnd('/'), l.Uri(n));
        }

        [Theory]
        [InlineData("az://")]
        [InlineData("az://acct1")]
        [InlineData("az://acct1/")]
        [InlineData("az://Acct1/c01/")]                       // account names are lower case
        [InlineData("az://a/c01/")]                           // too short
        [InlineData("az://acct1/C01/")]                       // container names are lower case
        [InlineData("az://acct1/a--b/")]                      // no double hyphen
        [InlineData("az://acct1/c01/a//b")]
        [InlineData("az://acct1/c01/../x")]
        [InlineData("az://acct1/c01/a\\b")]
        [InlineData("http://acct1.blob.core.windows.net/c01/")] // only https
        [InlineData("https://example.com/c01/")]              // not a blob service
        [InlineData("https://acct1.blob.core.windows.net:444/c01/")]
        public void RefusesBadLocations(string uri)
        {
            var e = Assert.Throws<PgBackupException>(() => AzureLocation.Parse(uri));
            Assert.Equal(ErrorIds.AzureInvalidUri, e.ErrorId);
        }

        [Fact]
        public void RefusesAddressWithSasWithoutEchoingIt()
        {
            const string sig = "sig=AbCdEfSECRETSIGNATURE%3D";
            var e = Assert.Throws<PgBackupException>(() => AzureLocation.Parse("https://acct1.blob.core.windows.net/c01/pg/?sv=2024-01-01&" + sig));
            Assert.Equal(ErrorIds.AzureInvalidUri, e.ErrorId);
            Assert.DoesNotContain("SECRETSIGNATURE", e.Message);
            Assert.DoesNotContain("SECRETSIGNATURE", e.Target?.ToString() ?? "");
            Assert.Contains("-AzureSasToken", e.Message);
        }

        private static Func<string, string?> Env(Dictionary<string, string> values) => n => values.TryGetValue(n, out var v) ? v : null;

        [Fact]
        public void ChoosesParameterThenEnvironmentThenDefaultAzureCredential()
        {
            var env = new Dictionary<string, string>
            {
                [AzureConnection.ConnectionStringVariable] = "AccountName=acct1;AccountKey=a2V5",
                [AzureConnection.SasTokenVariable] = "sv=1&sig=x",
                [AzureConnection.AccountKeyVariable] = "a2V5",
            };
            // A parameter wins over every variable.
            var p = AzureConnection.Choose(new StoreOptions { AzureSasToken = "?sv=2&sig=y" }, Env(env));
            Assert.Equal(AzureCredentialKind.SasToken, p.Kind);
            Assert.Equal("-AzureSasToken", p.Source);
            Assert.Equal(AzureCredentialKind.AccountKey, AzureConnection.Choose(new StoreOptions { AzureAccountKey = "k" }, Env(env)).Kind);
            Assert.Equal(AzureCredentialKind.ConnectionString, AzureConnection.Choose(new StoreOptions { AzureConnectionString = "c" }, Env(env)).Kind);
            // Then the variables, in the order connection string, SAS token, key.
            Assert.Equal("$env:AZURE_STORAGE_CONNECTION_STRING", AzureConnection.Choose(StoreOptions.Default, Env(env)).Source);
            env.Remove(AzureConnection.ConnectionStringVariable);
            Assert.Equal(AzureCredentialKind.SasToken, AzureConnection.Choose(StoreOptions.Default, Env(env)).Kind);
            env.Remove(AzureConnection.SasTokenVariable);
            Assert.Equal(AzureCredentialKind.AccountKey, AzureConnection.Choose(StoreOptions.Default, Env(env)).Kind);
            env[AzureConnection.AccountKeyVariable] = "  ";
            // Then Microsoft Entra ID (managed identity in Azure Automation).
            var d = AzureConnection.Choose(StoreOptions.Default, Env(env));
            Assert.Equal(AzureCredentialKind.DefaultAzureCredential, d.Kind);
            Assert.Null(d.Secret);
        }

        [Fact]
        public void RefusesArchiveTierAndSeveralSecrets()
        {
            var e = Assert.Throws<PgBackupException>(() => new StoreOptions { AccessTier = AzureAccessTier.Archive }.Validate());
            Assert.Equal(ErrorIds.AzureAccessTierRefused, e.ErrorId);
            Assert.Contains("rehydrat", e.Message);
            var two = Assert.Throws<PgBackupException>(() => new StoreOptions { AzureSasToken = "a", AzureAccountKey = "b" }.Validate());
            Assert.Equal(ErrorIds.InvalidParameter, two.ErrorId);
            new StoreOptions { AccessTier = AzureAccessTier.Cool, AzureSasToken = "a" }.Validate();
        }

        [Fact]
        public void RefusesConnectionStringOfAnotherAccountWithoutShowingIt()
        {
            const string key = "c2VjcmV0LWtleS1mb3ItdGVzdHM=";
            var options = new StoreOptions { AzureConnectionString = $"DefaultEndpointsProtocol=https;AccountName=other1;AccountKey={key};EndpointSuffix=core.windows.net" };
            var e = Assert.Throws<PgBackupException>(() => new AzureConnection(AzureLocation.Parse("az://acct1/c01/"), options));
            Assert.Equal(ErrorIds.InvalidParameter, e.ErrorId);
            Assert.Contains("other1", e.Message);
            Assert.DoesNotContain(key, e.Message);
        }

        [Theory]
        [InlineData("../x")]
        [InlineData("a/../../x")]
        [InlineData("/etc/passwd")]
        [InlineData("a\\b")]
        [InlineData("backup_x.sql.gz\u0000")]
        public void TheStoreRefusesNamesThatCouldLeaveIt(string name)
        {
            using var store = new AzureStore(AzureLocation.Parse("az://acct1/c01/pg/"), StoreOptions.Default);
            Assert.Equal(ErrorIds.UnsafeName, Assert.Throws<PgBackupException>(() => store.GetPath(name)).ErrorId);
            Assert.Equal("az://acct1/c01/pg/backup_x_20260101_000000.sql.gz", store.GetPath("backup_x_20260101_000000.sql.gz"));
        }

        [Fact]
        public void DefaultAzureCredentialOnlyOverHttps()
        {
            var location = AzureLocation.Parse("az://acct1/c01/");
            var none = new AzureCredentialChoice(AzureCredentialKind.DefaultAzureCredential, null, "DefaultAzureCredential");
            // Made without a request: the managed identity is asked for a token only when the first request goes out.
            var cloud = new AzureConnection(location, StoreOptions.Default, none);
            Assert.Equal("https://acct1.blob.core.windows.net", cloud.Endpoint);
            var e = Assert.Throws<PgBackupException>(() => new AzureConnection(location, new StoreOptions { AzureEndpointUrl = "http://127.0.0.1:10000/acct1" }, none));
            Assert.Equal(ErrorIds.AzureAccessDenied, e.ErrorId);
            Assert.Contains("https", e.Message);
        }

        [Theory]
        [InlineData(409, "BlobImmutableDueToPolicy", "AzureBlobImmutable")]
        [InlineData(409, "BlobImmutableDueToLegalHold", "AzureBlobImmutable")]
        [InlineData(404, "ContainerNotFound", "AzureContainerNotFound")]
        [InlineData(404, "BlobNotFound", "PathNotFound")]
        [InlineData(403, "AuthenticationFailed", "AzureAccessDenied")]
        [InlineData(403, "AuthorizationPermissionMismatch", "AzureAccessDenied")]
        [InlineData(500, "InternalError", "AzureUploadFailed")]
        public void MapsServiceErrors(int status, string code, string id)
        {
            const string sas = "sv=2024-01-01&sp=racwdl&sig=TOPSECRETSIG";
            var connection = new AzureConnection(AzureLocation.Parse("az://acct1/c01/"), new StoreOptions { AzureSasToken = sas });
            var failure = new RequestFailedException(status, $"Failed at https://acct1.blob.core.windows.net/c01/x?{sas}\nRequestId:1", code, null);
            var e = connection.Map(failure, "delete", "az://acct1/c01/x", write: true);
            Assert.Equal(id, e.ErrorId);
            Assert.DoesNotContain("TOPSECRETSIG", e.Message);
            Assert.DoesNotContain("TOPSECRETSIG", e.RecommendedAction ?? "");
        }

        [Fact]
        public void RedactsSignaturesAndKeys()
        {
            var text = AzureConnection.Redact("GET https://a.blob.core.windows.net/c?sv=1&sig=abc%2Bdef&se=2 AccountKey=Zm9vYmFy;SharedAccessSignature=sv=1&sig=zzz");
            Assert.DoesNotContain("abc%2Bdef", text);
            Assert.DoesNotContain("Zm9vYmFy", text);
            Assert.DoesNotContain("zzz", text);
        }
    }
}
