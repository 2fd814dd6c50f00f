using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Authentication;
using System.Text;
using System.Threading;
using Amazon.S3;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>
    /// The decisions PgBackup makes for Windows and Windows PowerShell 5.1 (.NET Framework), each behind a seam and
    /// run here with Windows-shaped inputs (issue 25). What these cannot show is in README's "Windows" section.
    /// </summary>
    public sealed class WindowsSeamTests
    {
        // ---- 5. CommandLine.Quote, the only argument path on Windows PowerShell (.NET Framework's ProcessStartInfo.Arguments).

        /// <summary>The reference splitter (tests/harness/WindowsArgv.cs, also used by Windows.Tests.ps1).</summary>
        internal static List<string> SplitWindows(string commandLine, bool commandLineToArgvW) => PgBackup.TestHarness.WindowsArgv.Split(commandLine, commandLineToArgvW);

        public static readonly string[] HostileArguments =
        {
            "plain", "", " ", "  two  spaces ", "a b", "tab\there", "\"", "\"\"", "a\"b", "\"quoted\"", "a\\\"b", "a\\\\\"b",
            "trailing\\", "trailing\\\\", "C:\\Program Files\\PostgreSQL\\16\\bin\\", "\\\\server\\share\\dir\\", "\\\"", "\\",
            "\\\\", "back\\slash", "end with quote\"", "\"start", "new\nline", "vertical\vtab", "ü ö ß 日本 🐘", "-t", "--table=\"Ölpreis\"",
            "--dbname=host='h' dbname='a b' user='x\\'y'", "%PATH%", "^&|<>()!", "a\\\\\\\\\"\\\\", "\"\\\\\"",
        };

        [Fact]
        public void QuotedArgumentsSplitBackUnchangedByTheCRuntimeAndCommandLineToArgvWRules()
        {
            foreach (var arg in HostileArguments)
            {
                var line = CommandLine.Join(new[] { arg });
                Assert.Equal(new[] { arg }, SplitWindows(line, commandLineToArgvW: false));
                Assert.Equal(new[] { arg }, SplitWindows(line, commandLineToArgvW: true));
            }
            // All at once, and every pair in both orders (an empty argument beside a quoted one).
            var all = CommandLine.Join(HostileArguments);
            Assert.Equal(HostileArguments, SplitWindows(all, false));
            Assert.Equal(HostileArguments, SplitWindows(all, true));
            foreach (var a in HostileArguments)
                foreach (var b in HostileArguments)
                {
                    var pair = new[] { a, b };
                    Assert.Equal(pair, SplitWindows(CommandLine.Join(pair), false));
                    Assert.Equal(pair, SplitWindows(CommandLine.Join(pair), true));
                }
        }

        [Fact]
        public void RandomArgumentsOfQuotesBackslashesAndBlanksSurviveTheRoundTrip()
        {
            var rng = new Random(25);
            const string alphabet = "\\\"  \tab\u00e9\u65e5";
            for (int round = 0; round < 3000; round++)
            {
                var args = Enumerable.Range(0, rng.Next(1, 4))
                    .Select(_ => new string(Enumerable.Range(0, rng.Next(0, 9)).Select(__ => alphabet[rng.Next(alphabet.Length)]).ToArray())).ToArray();
                var line = CommandLine.Join(args);
                Assert.Equal(args, SplitWindows(line, false));
                Assert.Equal(args, SplitWindows(line, true));
            }
        }

        [Fact]
        public void TheReferenceSplitterFollowsTheDocumentedExamples()
        {
            // Microsoft's table ("Parsing C++ command-line arguments"), so that the splitter is not just Quote's mirror.
            Assert.Equal(new[] { "a b c", "d", "e" }, SplitWindows("\"a b c\" d e", false));
            Assert.Equal(new[] { "ab\"c", "\\", "d" }, SplitWindows("\"ab\\\"c\" \"\\\\\" d", false));
            Assert.Equal(new[] { "a\\\\\\b", "de fg", "h" }, SplitWindows("a\\\\\\b d\"e f\"g h", false));
            Assert.Equal(new[] { "a\\\"b", "c", "d" }, SplitWindows("a\\\\\\\"b c d", false));
            Assert.Equal(new[] { "a\\\\b c", "d", "e" }, SplitWindows("a\\\\\\\\\"b c\" d e", false));
            Assert.Equal(new[] { "ab\" c d" }, SplitWindows("a\"b\"\" c d", false));
            // A trailing backslash left unquoted before a closing quote would escape it: Quote doubles it.
            Assert.Equal("\"C:\\Program Files\\\\\"", CommandLine.Quote("C:\\Program Files\\"));
            Assert.Equal("\"\"", CommandLine.Quote(""));
        }

        [Fact]
        public void ArgumentsGivenAsOneStringReachARealProcessUnchanged()
        {
            // The netstandard2.0 build's path (ProcessStartInfo.Arguments) through .NET's own splitter, which follows
            // the same rules on Linux: every hostile argument arrives byte for byte.
            var psi = new ProcessStartInfo("/bin/sh")
            {
                Arguments = CommandLine.Join(new[] { "-c", "for a in \"$@\"; do printf '%s\\0' \"$a\"; done", "sh" }.Concat(HostileArguments)),
                RedirectStandardOutput = true, UseShellExecute = false,
                StandardOutputEncoding = new UTF8Encoding(false),
            };
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(HostileArguments, output.Split('\0').SkipLast(1).ToArray());
        }

        // ---- 1. TLS on .NET Framework.

        [Theory]
        [InlineData(".NET Framework 4.8.9290.0", 48 | 192, true)]       // Ssl3 | Tls: powershell.exe without registry settings
        [InlineData(".NET Framework 4.7.3190.0", 192, true)]            // Tls only
        [InlineData(".NET Framework 4.7.3190.0", 192 | 768, true)]      // Tls | Tls11
        [InlineData(".NET Framework 4.8.9290.0", 0, false)]             // SystemDefault (SystemDefaultTlsVersions=1): the OS decides
        [InlineData(".NET Framework 4.8.9290.0", 192 | 3072, false)]    // already offers TLS 1.2 (SchUseStrongCrypto, or a script set it)
        [InlineData(".NET 8.0.11", 48 | 192, false)]                    // .NET ignores ServicePointManager for HttpClient
        [InlineData(".NET 9.0.0", 0, false)]
        public void AsksForTls12OnlyWhereDotNetFrameworkWouldOfferLess(string framework, int servicePoint, bool tls12)
        {
            Assert.Equal(tls12 ? SslProtocols.Tls12 : (SslProtocols?)null, TlsPolicy.For(framework, servicePoint));
        }

        [Fact]
        public void TheHandlersCarryTheProtocolAndTheAwsSdksOwnSettings()
        {
            Assert.Equal(SslProtocols.Tls12, TlsPolicy.CreateHandler(SslProtocols.Tls12).SslProtocols);
            Assert.Equal(new System.Net.Http.HttpClientHandler().SslProtocols, TlsPolicy.CreateHandler(null).SslProtocols);
            var config = new AmazonS3Config { Timeout = TimeSpan.FromSeconds(42), MaxConnectionsPerServer = 7 };
            var factory = new TlsPolicy.AwsHttpClientFactory(SslProtocols.Tls12);
            using var handler = factory.CreateHandler(config);
            Assert.Equal(SslProtocols.Tls12, handler.SslProtocols);
            Assert.Equal(config.AllowAutoRedirect, handler.AllowAutoRedirect);
            Assert.Equal(System.Net.DecompressionMethods.None, handler.AutomaticDecompression);
            Assert.Equal(7, handler.MaxConnectionsPerServer);
            using var client = factory.CreateHttpClient(config);
            Assert.Equal(TimeSpan.FromSeconds(42), client.Timeout);
            // This process (.NET) leaves the choice to the runtime.
            Assert.Null(TlsPolicy.Current);
        }

        [S3Fact]
        public void AnS3StoreWorksThroughTheTls12ClientFactory()
        {
            // The S3 path a Windows PowerShell 5.1 host takes (the factory), against the real gateway.
            var server = S3TestServer.Current!;
            var bucket = server.NewBucket();
            var options = server.Options();
            options = new StoreOptions
            {
                AccessKey = options.AccessKey, SecretKey = options.SecretKey, Region = options.Region, EndpointUrl = options.EndpointUrl,
                AddressingStyle = options.AddressingStyle, ChecksumMode = options.ChecksumMode, CacheHttpClient = false,
                ForceTlsProtocols = SslProtocols.Tls12,
            };
            using var store = new S3Store($"s3://{bucket}/win", options);
            var data = S3TestServer.RandomBytes(3000);
            using (var w = store.OpenWrite("backup_app_20260101_030000.sql.gz", CancellationToken.None))
            {
                w.Stream.Write(data, 0, data.Length);
                w.Commit(CancellationToken.None);
            }
            Assert.Equal(data, S3TestServer.ReadAll(store, "backup_app_20260101_030000.sql.gz"));
        }

        // ---- 3. Time zones: .NET Framework knows only Windows ids.

        private static readonly HashSet<string> WindowsIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "W. Europe Standard Time", "Eastern Standard Time", "Tokyo Standard Time", "India Standard Time", "GMT Standard Time",
        };

        /// <summary>TimeZoneInfo.FindSystemTimeZoneById as on .NET Framework: Windows ids only.</summary>
        private static TimeZoneInfo? WindowsLookup(string id) =>
            WindowsIds.Contains(id) ? TimeZoneInfo.FindSystemTimeZoneById(TimeZoneConverter.TZConvert.WindowsToIana(id)) : null;

        /// <summary>As on Linux and macOS without ICU's Windows names: IANA ids only.</summary>
        private static TimeZoneInfo? IanaLookup(string id) =>
            id.Contains('/') ? TimeZoneInfo.FindSystemTimeZoneById(id) : null;

        [Theory]
        [InlineData("Europe/Berlin", "W. Europe Standard Time")]
        [InlineData("America/New_York", "Eastern Standard Time")]
        [InlineData("Asia/Tokyo", "Tokyo Standard Time")]
        [InlineData("Asia/Calcutta", "India Standard Time")]      // an old IANA alias
        [InlineData("Europe/London", "GMT Standard Time")]
        public void IanaAndWindowsIdsBothWorkOnBothKindsOfMachine(string iana, string windows)
        {
            var reference = TimeZoneInfo.FindSystemTimeZoneById(iana);
            var summer = new DateTime(2026, 7, 1, 12, 0, 0, DateTimeKind.Utc);
            foreach (var id in new[] { iana, windows })
                foreach (var lookup in new Func<string, TimeZoneInfo?>[] { WindowsLookup, IanaLookup })
                {
                    var zone = RetentionPolicy.FindTimeZone(id, lookup);
                    Assert.Equal(reference.GetUtcOffset(summer), zone.GetUtcOffset(summer));
                    Assert.Equal(reference.GetUtcOffset(summer.AddMonths(6)), zone.GetUtcOffset(summer.AddMonths(6)));
                }
        }

        [Fact]
        public void AnUnknownZoneSaysBothKindsOfIdAreAccepted()
        {
            var e = Assert.Throws<PgBackupException>(() => RetentionPolicy.FindTimeZone("Mars/Olympus_Mons", WindowsLookup));
            Assert.Equal(ErrorIds.TimeZoneNotFound, e.ErrorId);
            Assert.Contains("W. Europe Standard Time", e.RecommendedAction);
            Assert.Contains("Europe/Berlin", e.RecommendedAction);
        }

        // ---- 7. The commit's rename while another process holds a fresh file.

        private static IOException SharingViolation() => new IOException("The process cannot access the file because it is being used by another process.", unchecked((int)0x80070020));

        [Fact]
        public void ACommitRetriesSharingViolationsAndAccessDeniedOnWindowsThenSucceeds()
        {
            int calls = 0;
            var waits = new List<TimeSpan>();
            FileCommit.Run(() =>
            {
                calls++;
                if (calls == 1) throw SharingViolation();
                if (calls == 2) throw new UnauthorizedAccessException("Access to the path is denied.");
                if (calls == 3) throw new IOException("lock", unchecked((int)0x80070021));
            }, windows: true, waits.Add);
            Assert.Equal(4, calls);
            Assert.Equal(FileCommit.Delays.Take(3), waits);
        }

        [Fact]
        public void ACommitGivesUpAfterItsDelaysAndNeverRetriesOtherFailuresOrOtherPlatforms()
        {
            int calls = 0;
            Assert.Throws<IOException>(() => FileCommit.Run(() => { calls++; throw SharingViolation(); }, windows: true, _ => { }));
            Assert.Equal(FileCommit.Delays.Length + 1, calls);
            Assert.True(FileCommit.Delays.Aggregate(TimeSpan.Zero, (a, b) => a + b) < TimeSpan.FromSeconds(10));

            calls = 0;
            Assert.Throws<IOException>(() => FileCommit.Run(() => { calls++; throw SharingViolation(); }, windows: false, _ => { }));
            Assert.Equal(1, calls);
            calls = 0;
            Assert.Throws<PgBackupException>(() => FileCommit.Run(() => { calls++; throw new PgBackupException(ErrorIds.BackupExists, ErrorKind.ResourceExists, "exists"); }, windows: true, _ => { }));
            Assert.Equal(1, calls);
            calls = 0;
            Assert.Throws<FileNotFoundException>(() => FileCommit.Run(() => { calls++; throw new FileNotFoundException("gone"); }, windows: true, _ => { }));
            Assert.Equal(1, calls);
            calls = 0;
            Assert.Throws<IOException>(() => FileCommit.Run(() => { calls++; throw new IOException("disk full", unchecked((int)0x80070070)); }, windows: true, _ => { }));
            Assert.Equal(1, calls);
        }

        [Fact]
        public void ACommitOfARealFileWaitsForAHolderThatLetsGo()
        {
            // A mover that fails twice as a scanner would, then the real rename: the backup is kept, not thrown away.
            var dir = Directory.CreateTempSubdirectory("pgbackup-commit-").FullName;
            try
            {
                var from = Path.Combine(dir, "b.sql.gz.partial");
                var to = Path.Combine(dir, "b.sql.gz");
                File.WriteAllText(from, "data");
                int held = 2;
                FileCommit.Run(() =>
                {
                    if (held-- > 0) throw SharingViolation();
                    File.Move(from, to);
                }, windows: true, _ => { });
                Assert.Equal("data", File.ReadAllText(to));
                Assert.False(File.Exists(from));
            }
            finally { Directory.Delete(dir, true); }
        }

        // ---- 6. Messages in other languages: SQLSTATE, English tools, English relayed server text, UTF-8 stderr.

        private static string PgTool(string name) => new PgToolLocator().Find(name, 12, "the Windows seam tests").Path;

        [Theory]
        [InlineData("C", true)]
        [InlineData("POSIX", true)]
        [InlineData("en_US.UTF-8", true)]
        [InlineData("English_United States.1252", true)]   // what EDB's installer writes on an English Windows
        [InlineData("German_Germany.1252", false)]          // ... and on a German one
        [InlineData("de_DE.UTF-8", false)]
        [InlineData("C.UTF-8", false)]                      // gettext then follows the server's LANGUAGE
        [InlineData("", false)]                             // inherited from the server's environment: unknown
        public void KnowsWhichServerSettingsSurelySpeakEnglish(string lcMessages, bool english)
        {
            Assert.Equal(english, ServerMessages.IsEnglish(lcMessages));
        }

        [Fact]
        public void AsksForEnglishServerMessagesOnlyWhenNeededAndAllowed()
        {
            Assert.Equal("-c lc_messages=C", ServerMessages.ChildOptions(null, "German_Germany.1252", canSetLcMessages: true));
            Assert.Equal("-c search_path=app -c lc_messages=C", ServerMessages.ChildOptions(" -c search_path=app ", "de_DE.UTF-8", true));
            Assert.Null(ServerMessages.ChildOptions(null, "de_DE.UTF-8", canSetLcMessages: false));   // the role may not: the server would refuse the login
            Assert.Null(ServerMessages.ChildOptions(null, "English_United States.1252", true));
            Assert.Null(ServerMessages.ChildOptions("-c lc_messages=fr_FR", "de_DE.UTF-8", true));   // the user's own choice stays
        }

        [Fact]
        public void ErrorsAreClassifiedBySqlStateWhateverTheirText()
        {
            var german = new Npgsql.PostgresException("Datenbank »app« wird von anderen Benutzern verwendet", "FEHLER", "ERROR", "55006");
            var wrapped = new PgBackupException(ErrorIds.ServerQueryFailed, ErrorKind.InvalidOperation, "Could not run", null, german);
            Assert.Equal("55006", ServerMessages.SqlState(wrapped));
            Assert.Null(ServerMessages.SqlState(new IOException("x")));
        }

        [Fact]
        public void PgRestoreErrorLinesAreRecognisedWhenTheServerSpeaksGerman()
        {
            Assert.True(ServerMessages.IsToolErrorLine("pg_restore: error: could not execute query: FEHLER:  Relation »t« existiert bereits"));
            Assert.True(ServerMessages.IsToolErrorLine("pg_restore: error: could not execute query: ERROR:  relation \"t\" already exists"));
            Assert.False(ServerMessages.IsToolErrorLine("pg_restore: creating TABLE \"public.t\""));
            Assert.False(ServerMessages.IsToolErrorLine("pg_restore: processing data for table \"public.errors\""));
        }

        [Fact]
        public void TheToolsOwnMessagesAreEnglishEvenUnderAnLcAllOfAnotherLanguage()
        {
            // Debian's PostgreSQL ships German catalogs; LANGUAGE=de with a UTF-8 locale makes pg_dump speak German.
            var pgDump = PgTool("pg_dump");
            string Run(Action<IDictionary<string, string?>> prepare)
            {
                var psi = new ProcessStartInfo(pgDump, "--help") { RedirectStandardOutput = true, UseShellExecute = false };
                psi.Environment["LC_ALL"] = "C.UTF-8";
                psi.Environment["LANGUAGE"] = "de";
                prepare(psi.Environment);
                using var p = Process.Start(psi)!;
                var text = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return text;
            }
            // What PgBackup did before: LC_MESSAGES=C alone, which LC_ALL overrides.
            Assert.Contains("gibt eine Datenbank", Run(env => env["LC_MESSAGES"] = "C"));
            var english = Run(ServerMessages.ApplyChildLocale);
            Assert.Contains("dumps a database", english);
        }

        [Fact]
        public void StderrIsReadAsUtf8()
        {
            // pg_dump relays the server's text in the client encoding (UTF8); Windows' default would be the OEM code page.
            Assert.Equal(65001, ServerMessages.StderrEncoding.CodePage);
            Assert.Empty(ServerMessages.StderrEncoding.GetPreamble());
            var r = ChildProcess.RunToEnd("/bin/sh", new[] { "-c", "printf 'FEHLER:  Relation \\303\\226lpreis\\n' >&2" }, null, TimeSpan.FromSeconds(30));
            Assert.Contains("Relation Ölpreis", r.StandardError);
        }

        // ---- 4. Arguments and environment in the ANSI code page.

        private static readonly System.Text.Encoding Cp1252 = CodePagesEncodingProvider.Instance.GetEncoding(1252)!;
        private static readonly System.Text.Encoding Cp932 = CodePagesEncodingProvider.Instance.GetEncoding(932)!;

        [Fact]
        public void ValuesThatTheAnsiCodePageWouldChangeAreRefusedBeforeAnythingRuns()
        {
            var redactor = new Redactor(new[] { "pässwört" });
            // A table pattern with ä arrives as the byte E4 in code page 1252, not as UTF-8: refused.
            var e = Assert.Throws<PgBackupException>(() => AnsiArguments.Check("pg_dump.exe", new[] { "--table=Lagerbestände" }, null, 1252, Cp1252, redactor));
            Assert.Equal(ErrorIds.ArgumentNotRepresentable, e.ErrorId);
            Assert.Contains("--table=Lagerbestände", e.Message);
            Assert.Contains("1252", e.Message);
            // The password (PGPASSWORD) likewise, and the message never shows it.
            var env = new Dictionary<string, string?> { ["PGPASSWORD"] = "pässwört" };
            e = Assert.Throws<PgBackupException>(() => AnsiArguments.Check("pg_dump.exe", new[] { "--verbose" }, env, 1252, Cp1252, redactor));
            Assert.Contains("the password", e.Message);
            Assert.DoesNotContain("pässwört", e.Message + e.RecommendedAction);
            // A path survives when the code page can write it: the C runtime converts it back when it opens the file.
            AnsiArguments.Check("pg_restore.exe", new[] { "--use-list=C:\\Users\\Jürgen\\AppData\\Local\\Temp\\l.txt", "C:\\Users\\Jürgen\\b.dump" }, null, 1252, Cp1252, redactor);
            e = Assert.Throws<PgBackupException>(() => AnsiArguments.Check("pg_restore.exe", new[] { "D:\\バックアップ\\b.dump" }, null, 1252, Cp1252, redactor));
            Assert.Contains("path", e.Message);
            AnsiArguments.Check("pg_restore.exe", new[] { "D:\\バックアップ\\b.dump" }, null, 932, Cp932, redactor);
            // A code page PgBackup cannot convert with: paths must be ASCII too.
            Assert.Throws<PgBackupException>(() => AnsiArguments.Check("pg_restore.exe", new[] { "C:\\Users\\Jürgen\\b.dump" }, null, 1252, null, redactor));
            // With Windows' UTF-8 option (code page 65001) everything passes; ASCII always does.
            AnsiArguments.Check("pg_dump.exe", new[] { "--table=Lagerbestände", "--file=D:\\バックアップ\\b" }, env, 65001, null, redactor);
            AnsiArguments.Check("pg_dump.exe", HostileArguments.Where(AnsiArguments.IsAscii), null, 1252, Cp1252, redactor);
        }

        [Fact]
        public void ANonAsciiConnectionGoesAsAPercentEncodedUriThatPassesAnyCodePage()
        {
            var info = PgConnectionInfo.Parse("postgresql://bénédicte@db.example:5433/Lagerbestände?sslmode=require&application_name=Sicherung%20%C3%BC");
            var conninfo = info.ToLibpqConninfo();
            Assert.True(AnsiArguments.IsAscii(conninfo), conninfo);
            Assert.StartsWith("postgresql://?", conninfo);
            Assert.Contains("dbname=Lagerbest%C3%A4nde", conninfo);
            Assert.Contains("user=b%C3%A9n%C3%A9dicte", conninfo);
            AnsiArguments.Check("pg_dump.exe", new[] { "--dbname=" + conninfo }, null, 1252, Cp1252, Redactor.None);
            // ASCII connections keep libpq's key='value' form.
            Assert.StartsWith("dbname='app'", PgConnectionInfo.Parse("postgresql://u@h/app").ToLibpqConninfo());
        }

        [PgFact]
        public void PgDumpReachesADatabaseWithANonAsciiNameThroughTheUri()
        {
            var name = "Lagerbestände_ü_" + Guid.NewGuid().ToString("n").Substring(0, 6);
            using var admin = DatabaseAdmin.Connect(PgTestServer.Info("postgres"), null, Redactor.None, CancellationToken.None);
            admin.Create(name, null, NullLog.Instance, CancellationToken.None);
            try
            {
                var info = PgTestServer.Info(name);
                var conninfo = info.ToLibpqConninfo();
                Assert.True(AnsiArguments.IsAscii(conninfo));
                var env = info.ChildEnvironment().ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
                var r = ChildProcess.RunToEnd(PgTool("pg_dump"), new[] { "--dbname=" + conninfo, "--no-password", "--schema-only" }, env, TimeSpan.FromSeconds(60));
                Assert.True(r.ExitCode == 0, r.StandardError);
                Assert.Contains("PostgreSQL database dump complete", r.StandardOutput);
            }
            finally { admin.Drop(name, CancellationToken.None); }
        }

        // ---- 2. A child's stdin on .NET Framework with a UTF-8 console.

        [Theory]
        [InlineData(".NET Framework 4.8.9290.0", 65001, true, true)]     // chcp 65001: Encoding.GetEncoding(65001) has a BOM
        [InlineData(".NET Framework 4.8.9290.0", 65001, false, false)]   // [Console]::InputEncoding = [Text.UTF8Encoding]::new($false)
        [InlineData(".NET Framework 4.8.9290.0", 850, false, false)]     // an OEM code page has no preamble
        [InlineData(".NET 8.0.11", 65001, true, false)]                  // .NET removes the preamble itself
        public void KnowsWhenAChildsStdinWouldStartWithABom(string framework, int codePage, bool bom, bool expected)
        {
            var encoding = codePage == 65001 ? new UTF8Encoding(bom) : CodePagesEncodingProvider.Instance.GetEncoding(codePage)!;
            Assert.Equal(expected, ChildStdin.WritesPreamble(framework, encoding));
            Assert.Empty(ChildStdin.WithoutPreamble(encoding).GetPreamble());
            Assert.Equal(encoding.CodePage, ChildStdin.WithoutPreamble(encoding).CodePage);
        }

        /// <summary>A pipe: no seeking, as a child's stdin.</summary>
        private sealed class PipeLike : MemoryStream
        {
            public override bool CanSeek => false;
        }

        [Fact]
        public void DotNetFrameworksStdinWriterWritesTheBomAtOnceAndTheSwappedEncodingDoesNot()
        {
            // What .NET Framework's Process.Start does with a redirected stdin (reference source: a StreamWriter over the
            // pipe with Console.InputEncoding, then AutoFlush = true): the BOM is in the pipe before any data.
            var pipe = new PipeLike();
            var writer = new StreamWriter(pipe, Encoding.UTF8, 4096) { AutoFlush = true };
            Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }, pipe.ToArray());
            var swapped = new PipeLike();
            var writer2 = new StreamWriter(swapped, ChildStdin.WithoutPreamble(Encoding.UTF8), 4096) { AutoFlush = true };
            Assert.Empty(swapped.ToArray());
            GC.KeepAlive(writer); GC.KeepAlive(writer2);
        }

        [PgFact]
        public void PgRestoreRefusesAnArchiveThatStartsWithABom()
        {
            // Why it matters: the same archive, with and without the three bytes, read by pg_restore --list from stdin.
            var info = PgTestServer.Info("postgres");
            var env = info.ChildEnvironment().ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
            using var dump = ChildProcess.Start(PgTool("pg_dump"), new[] { "--dbname=" + info.ToLibpqConninfo(), "--no-password", "--format=custom", "--schema-only" }, env, Redactor.None);
            var archive = new MemoryStream();
            dump.StandardOutput.CopyTo(archive);
            Assert.Equal(0, dump.WaitForExit(CancellationToken.None));
            string? ListToc(byte[] input)
            {
                using var p = ChildProcess.Start(PgTool("pg_restore"), new[] { "--list" }, null, Redactor.None, redirectStdin: true);
                var output = System.Threading.Tasks.Task.Run(() => new StreamReader(p.StandardOutput).ReadToEnd());
                try { p.StandardInput.Write(input, 0, input.Length); p.StandardInput.Dispose(); } catch (IOException) { }
                return p.WaitForExit(CancellationToken.None) == 0 ? output.Result : null;
            }
            Assert.NotNull(ListToc(archive.ToArray()));
            Assert.Null(ListToc(new byte[] { 0xEF, 0xBB, 0xBF }.Concat(archive.ToArray()).ToArray()));
        }

        [PgFact]
        public void AnExportThatCannotTakeItsFilesPlaceIsExportFailedAndLeavesNoPartial()
        {
            // Windows: the CSV open in Excel. Here: a folder where the file should go, which no rename can replace.
            var dir = Directory.CreateTempSubdirectory("pgbackup-csv-").FullName;
            try
            {
                using var db = PgTestServer.Connect("postgres");
                var existing = Path.Combine(dir, "rows.csv");
                File.WriteAllText(existing, "old");
                Assert.Equal(2, db.CopyOutCsv("SELECT g AS n FROM generate_series(1, 2) AS g", existing, CancellationToken.None));
                Assert.Equal("n\n1\n2\n", File.ReadAllText(existing));
                var blocked = Path.Combine(dir, "blocked.csv");
                Directory.CreateDirectory(blocked);
                var e = Assert.Throws<PgBackupException>(() => db.CopyOutCsv("SELECT 1 AS n", blocked, CancellationToken.None));
                Assert.Equal(ErrorIds.ExportFailed, e.ErrorId);
                Assert.Contains("Excel", e.RecommendedAction);
                Assert.Equal(new[] { "blocked.csv", "rows.csv" }, Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
            }
            finally { Directory.Delete(dir, true); }
        }

        // ---- 8. Tool discovery: quoted PATH entries and the EDB installer's registry key.

        [Fact]
        public void WindowsPathEntriesMayBeQuotedAndHoldSemicolons()
        {
            var path = "C:\\Windows\\system32;\"C:\\Program Files\\PostgreSQL\\16\\bin\";;  D:\\tools ;\"E:\\odd;name\\bin\";\"F:\\unclosed";
            Assert.Equal(new[] { "C:\\Windows\\system32", "C:\\Program Files\\PostgreSQL\\16\\bin", "D:\\tools", "E:\\odd;name\\bin", "F:\\unclosed" },
                PgToolLocator.SplitPath(path, windows: true));
            Assert.Equal(new[] { "/usr/bin", "/opt/\"pg\"/bin" }, PgToolLocator.SplitPath("/usr/bin::/opt/\"pg\"/bin", windows: false));
            Assert.Empty(PgToolLocator.SplitPath(null, windows: true));
        }

        private sealed class FakeRegistry : IRegistryReader
        {
            public readonly Dictionary<string, Dictionary<string, string>> Keys = new Dictionary<string, Dictionary<string, string>>(StringComparer.OrdinalIgnoreCase);

            public IReadOnlyList<string> SubKeyNames(string key) =>
                Keys.Keys.Where(k => k.StartsWith(key + "\\", StringComparison.OrdinalIgnoreCase) && k.IndexOf('\\', key.Length + 1) < 0)
                    .Select(k => k.Substring(key.Length + 1)).ToList();

            public string? GetString(string key, string valueName) =>
                Keys.TryGetValue(key, out var values) && values.TryGetValue(valueName, out var v) ? v : null;
        }

        [Fact]
        public void InstallsTheEdbInstallerRegisteredAreFoundWhereverTheyAre()
        {
            var registry = new FakeRegistry();
            registry.Keys[@"SOFTWARE\PostgreSQL\Installations\postgresql-x64-16"] = new() { ["Base Directory"] = @"D:\PostgreSQL\16", ["Version"] = "16.4" };
            registry.Keys[@"SOFTWARE\PostgreSQL\Installations\postgresql-x64-17"] = new() { ["Base Directory"] = "\"E:\\pg 17\"" };
            registry.Keys[@"SOFTWARE\PostgreSQL\Installations\broken"] = new() { ["Version"] = "9.6" };
            registry.Keys[@"SOFTWARE\WOW6432Node\PostgreSQL\Installations\postgresql-12"] = new() { ["Base Directory"] = @"C:\Program Files (x86)\PostgreSQL\12" };
            Assert.Equal(new[] { Path.Combine(@"D:\PostgreSQL\16", "bin"), Path.Combine(@"E:\pg 17", "bin"), Path.Combine(@"C:\Program Files (x86)\PostgreSQL\12", "bin") },
                PgToolLocator.RegisteredInstallDirs(registry));
            Assert.Empty(PgToolLocator.RegisteredInstallDirs(new FakeRegistry()));
        }
    }
}
