using System;
using System.Net;
using System.Net.Http;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using Amazon.Runtime;

namespace PgBackup
{
    /// <summary>
    /// Which TLS versions PgBackup's own HTTP clients (Neon, S3) ask for. On .NET Framework (Windows PowerShell 5.1)
    /// HttpClient follows <c>ServicePointManager.SecurityProtocol</c>, which is SSL 3 and TLS 1.0 for a host built for
    /// .NET Framework 4.5 (powershell.exe) unless the machine's registry says otherwise (SchUseStrongCrypto,
    /// SystemDefaultTlsVersions): every request to Neon or AWS then fails its handshake. PgBackup does not change that
    /// process-wide setting (the session is not its own): it sets TLS 1.2 on its own handlers only, and only when the
    /// process-wide setting would offer neither TLS 1.2 nor the system default.
    /// </summary>
    public static class TlsPolicy
    {
        /// <summary>SecurityProtocolType.SystemDefault (0) and Tls12 (3072), as numbers: netstandard2.0 lacks the first.</summary>
        internal const int SystemDefault = 0, Tls12Flag = 3072;

        /// <summary>
        /// The protocols a handler should be given on a runtime described by <paramref name="frameworkDescription"/>
        /// (<see cref="RuntimeInformation.FrameworkDescription"/>) whose <c>ServicePointManager.SecurityProtocol</c> is
        /// <paramref name="servicePointProtocols"/>; null to leave the runtime's own choice (.NET, or a .NET Framework
        /// already set up for TLS 1.2 or the system default).
        /// </summary>
        public static SslProtocols? For(string frameworkDescription, int servicePointProtocols)
        {
            if (!IsNetFramework(frameworkDescription)) return null;
            if (servicePointProtocols == SystemDefault || (servicePointProtocols & Tls12Flag) != 0) return null;
            return SslProtocols.Tls12;
        }

        public static bool IsNetFramework(string frameworkDescription) =>
            frameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase);

        /// <summary>What this process needs (see <see cref="For"/>).</summary>
        public static SslProtocols? Current => For(RuntimeInformation.FrameworkDescription, CurrentServicePointProtocols());

        private static int CurrentServicePointProtocols()
        {
            if (!IsNetFramework(RuntimeInformation.FrameworkDescription)) return SystemDefault;
#pragma warning disable SYSLIB0014 // read only, never set: the .NET Framework setting HttpClient follows there
            return (int)ServicePointManager.SecurityProtocol;
#pragma warning restore SYSLIB0014
        }

        /// <summary>A handler for PgBackup's own HttpClient, with <paramref name="protocols"/> when not null.</summary>
        public static HttpClientHandler CreateHandler(SslProtocols? protocols)
        {
            var handler = new HttpClientHandler();
            if (protocols is not null) handler.SslProtocols = protocols.Value;
            return handler;
        }

        /// <summary>
        /// The AWS SDK's HttpClient as the SDK makes it (redirects as configured, no automatic decompression, its
        /// proxy and connection limit, its timeout), with <paramref name="protocols"/>. Installed only when
        /// <see cref="Current"/> asks for it; the tests build it on any runtime.
        /// </summary>
        public sealed class AwsHttpClientFactory : HttpClientFactory
        {
            public AwsHttpClientFactory(SslProtocols protocols) { Protocols = protocols; }

            public SslProtocols Protocols { get; }

            public HttpClientHandler CreateHandler(IClientConfig config)
            {
                var handler = TlsPolicy.CreateHandler(Protocols);
                if (config.MaxConnectionsPerServer.HasValue) handler.MaxConnectionsPerServer = config.MaxConnectionsPerServer.Value;
                handler.AllowAutoRedirect = config.AllowAutoRedirect;
                handler.AutomaticDecompression = DecompressionMethods.None;
                var proxy = config.GetWebProxy();
                if (proxy is not null) handler.Proxy = proxy;
                if (handler.Proxy is not null && config.ProxyCredentials is not null) handler.Proxy.Credentials = config.ProxyCredentials;
                return handler;
            }

            public override HttpClient CreateHttpClient(IClientConfig clientConfig)
            {
                var client = new HttpClient(CreateHandler(clientConfig));
                if (clientConfig.Timeout.HasValue) client.Timeout = clientConfig.Timeout.Value;
                return client;
            }
        }
    }
}
