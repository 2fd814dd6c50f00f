using System.Net;
using System.Net.Sockets;

namespace PgBackup.Tests
{
    internal static class TestPorts
    {
        /// <summary>A loopback port that nothing listens on (one the system handed out a moment ago).</summary>
        public static int Closed()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }
    }
}
