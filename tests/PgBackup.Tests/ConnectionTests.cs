using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public class ConnectionTests
    {
        [Fact]
        public void ParsesAFullUri()
        {
            var c = PgConnectionInfo.Parse("postgresql://app_user:s3cr%40t@db.example.com:6543/my%20db?sslmode=require&application_name=x");
            Assert.Equal("app_user", c.User);
            Assert.Equal("s3cr@t", c.Password);
            Assert.Equal("db.example.com", c.Host);
            Assert.Equal(6543, c.Port);
            Assert.Equal("my db", c.Database);
            Assert.Equal("require", c.Get("sslmode"));
            Assert.Equal("x", c.Get("application_name"));
        }

        [Fact]
        public void ParsesPostgresSchemeIpv6AndDefaults()
        {
            var c = PgConnectionInfo.Parse("postgres://[::1]:5433/app");
            Assert.Equal("::1", c.Host);
            Assert.Equal(5433, c.Port);
            Assert.Null(c.User);
            Assert.Null(c.Password);
            var d = PgConnectionInfo.Parse("postgresql://localhost");
            Assert.Equal(5432, d.Port);
            Assert.Null(d.Database);
        }

        [Fact]
        public void ParsesKeyValueWithQuotes()
        {
            var c = PgConnectionInfo.Parse(@"host=localhost port=5432 dbname='my db' user=bob password='it\'s secret' sslmode=disable");
            Assert.Equal("my db", c.Database);
            Assert.Equal("it's secret", c.Password);
            Assert.Equal("bob", c.User);
            Assert.Equal("disable", c.Get("sslmode"));
        }

        [Theory]
        [InlineData("")]
        [InlineData("just words")]
        [InlineData("postgresql://h:notaport/db")]
        [InlineData("host='unterminated")]
        public void RejectsInvalidStrings(string text)
        {
            var e = Assert.Throws<PgBackupException>(() => PgConnectionInfo.Parse(text));
            Assert.Equal(ErrorIds.ConnectionStringInvalid, e.ErrorId);
        }

        [Fact]
        public void ConninfoForChildNeverHoldsThePassword()
        {
            var c = PgConnectionInfo.Parse("postgresql://u:topsecret@h:1/d?sslpassword=keypass");
            var conninfo = c.ToLibpqConninfo();
            Assert.DoesNotContain("topsecret", conninfo);
            Assert.DoesNotContain("keypass", conninfo);
            Assert.Contains("host='h'", conninfo);
            Assert.Equal("topsecret", c.ChildEnvironment()["PGPASSWORD"]);
            Assert.DoesNotContain("topsecret", c.ToString());
            Assert.Equal("postgresql://u@h:1/d", c.ToString());
        }

        [Theory]
        [InlineData("ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech", "ep-cool-darkness-123456.us-east-2.aws.neon.tech")]
        [InlineData("ep-x-1-pooler.c-2.us-east-2.aws.neon.tech", "ep-x-1.c-2.us-east-2.aws.neon.tech")]
        [InlineData("ep-cool-darkness-123456.us-east-2.aws.neon.tech", "ep-cool-darkness-123456.us-east-2.aws.neon.tech")]
        [InlineData("my-pooler.example.com", "my-pooler.example.com")]
        public void SwitchesNeonPoolerToDirectHost(string host, string expected)
        {
            Assert.Equal(expected, PgConnectionInfo.NeonDirectHost(host));
            var c = PgConnectionInfo.Parse($"postgresql://u:p@{host}/db").WithoutNeonPooler(out bool changed);
            Assert.Equal(expected, c.Host);
            Assert.Equal(host != expected, changed);
        }

        [Fact]
        public void ResolvesExplicitThenEnvironmentThenDotEnv()
        {
            var dir = Directory.CreateTempSubdirectory().FullName;
            try
            {
                File.WriteAllText(Path.Combine(dir, ".env"), "# comment\nOTHER=1\nexport DATABASE_URL=\"postgresql://file@h/filedb\"\n");
                var env = new Dictionary<string, string?>();
                var fromFile = ConnectionResolver.Resolve(null, null, null, dir, NullLog.Instance, k => env.TryGetValue(k, out var v) ? v : null);
                Assert.Equal("filedb", fromFile.Database);
                env["DATABASE_URL"] = "postgresql://env@h/envdb";
                var fromEnv = ConnectionResolver.Resolve(null, null, null, dir, NullLog.Instance, k => env.TryGetValue(k, out var v) ? v : null);
                Assert.Equal("envdb", fromEnv.Database);
                var explicitOne = ConnectionResolver.Resolve("postgresql://x:old@h/explicitdb", "cred_user", "cred_pw", dir, NullLog.Instance, k => env.TryGetValue(k, out var v) ? v : null);
                Assert.Equal("explicitdb", explicitOne.Database);
                Assert.Equal("cred_user", explicitOne.User);
                Assert.Equal("cred_pw", explicitOne.Password);
            }
            finally { Directory.Delete(dir, true); }
        }

        [Fact]
        public void MissingConnectionIsAClearError()
        {
            var dir = Directory.CreateTempSubdirectory().FullName;
            try
            {
                var e = Assert.Throws<PgBackupException>(() => ConnectionResolver.Resolve(null, null, null, dir, NullLog.Instance, _ => null));
                Assert.Equal(ErrorIds.ConnectionStringMissing, e.ErrorId);
            }
            finally { Directory.Delete(dir, true); }
        }

        [Fact]
        public void DotEnvHandlesQuotesCommentsAndExport()
        {
            var d = DotEnv.Parse("A=1\nB = 'two words'\nC=\"line\\nbreak\"\nD=plain # trailing comment\n#E=no\nexport F=yes\r\n");
            Assert.Equal("1", d["A"]);
            Assert.Equal("two words", d["B"]);
            Assert.Equal("line\nbreak", d["C"]);
            Assert.Equal("plain", d["D"]);
            Assert.False(d.ContainsKey("E"));
            Assert.Equal("yes", d["F"]);
        }

        [Fact]
        public void RedactorMasksKnownAndEmbeddedSecrets()
        {
            var r = new Redactor(new[] { "hunter22" });
            Assert.Equal("password ******** here", r.Redact("password hunter22 here").Replace("password ", "password ", StringComparison.Ordinal));
            Assert.DoesNotContain("zz9", r.Redact("postgresql://u:zz9@h/db"));
            Assert.DoesNotContain("abc", r.Redact("host=h password='abc' user=u"));
            Assert.DoesNotContain("abc", r.Redact("PGPASSWORD=abc"));
        }

        [Fact]
        public void RedactorMasksSecretsOfAnyLength()
        {
            var r = new Redactor(new[] { "q7", "x", "longer-secret" });
            var text = r.Redact("login q7 failed; retried with x; then longer-secret");
            Assert.DoesNotContain("q7", text);
            Assert.DoesNotContain("x", text);
            Assert.DoesNotContain("longer", text);
            Assert.Equal("a ******** b", new Redactor(new[] { "!" }).Redact("a ! b"));
        }

        [Fact]
        public void SettingsClearTheirPassphrasesWhenDisposed()
        {
            char[] a = "pass-a".ToCharArray(), b = "pass-b".ToCharArray(), c = "pass-c".ToCharArray();
            using (new DecryptionSettings { Passphrase = a, SecretKeyPath = "k.asc", SecretKeyPassphrase = b }) { }
            using (new EncryptionSettings { Passphrase = c }) { }
            Assert.All(a.Concat(b).Concat(c), ch => Assert.Equal('\0', ch));
            DecryptionSettings.None.Dispose();
        }

        [Theory]
        [InlineData("http://console.neon.tech/api/v2", false)]
        [InlineData("http://10.0.0.5:8080/api/v2", false)]
        [InlineData("http://localhost.example.com/api/v2", false)]
        [InlineData("https://console.neon.tech/api/v2", true)]
        [InlineData("http://127.0.0.1:5055/api/v2", true)]
        [InlineData("http://localhost:5055/api/v2", true)]
        [InlineData("http://[::1]:5055/api/v2", true)]
        public void TheNeonApiUrlFromDotEnvMustBeHttpsUnlessItIsThisMachine(string url, bool accepted)
        {
            var dir = Directory.CreateTempSubdirectory("pgbackup-env-").FullName;
            try
            {
                File.WriteAllText(Path.Combine(dir, ".env"), $"NEON_API_KEY=key-123\nNEON_API_URL={url}\n");
                NeonOptions Resolve() => NeonOptions.Resolve(null, null, dir, null, null, NullLog.Instance, _ => null);
                if (accepted) Assert.Equal(url.TrimEnd('/') + "/", Resolve().ApiUrl.ToString());
                else Assert.Equal(ErrorIds.InvalidParameter, Assert.Throws<PgBackupException>(Resolve).ErrorId);
            }
            finally { Directory.Delete(dir, true); }
        }
    }
}
