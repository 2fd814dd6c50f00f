// A TCP proxy for tests of lost connections: it forwards 127.0.0.1:<Port> to a target and cuts (resets) a connection
// once it has carried a given number of bytes in one direction, or stalls it there (holds it open and forwards nothing
// more in that direction: a server that stopped answering). Used by the xUnit tests (compiled in) and the Pester
// tests (Add-Type). Plain C# 7 for Add-Type.
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup.TestHarness
{
    public sealed class CutProxy : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly string _targetHost;
        private readonly int _targetPort;
        private readonly List<Socket> _open = new List<Socket>();
        private int _cuts;
        private long _uploadCutsLeft = long.MaxValue;
        private long _downloadCutsLeft = long.MaxValue;
        private long _uploadStallsLeft = long.MaxValue;
        private long _downloadStallsLeft = long.MaxValue;
        private int _stalls;
        private readonly ManualResetEvent _released = new ManualResetEvent(false);
        private volatile bool _disposed;

        public CutProxy(string targetHost, int targetPort)
        {
            _targetHost = targetHost;
            _targetPort = targetPort;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            var accept = new Thread(AcceptLoop) { IsBackground = true, Name = "CutProxy" };
            accept.Start();
        }

        public int Port { get; private set; }
        public string Url { get { return "http://127.0.0.1:" + Port; } }

        /// <summary>A connection is cut once the client has sent this many bytes over it (e.g. an upload).</summary>
        public long CutUploadAfterBytes { get; set; } = long.MaxValue;

        /// <summary>A connection is cut once the server has sent this many bytes over it (e.g. a download).</summary>
        public long CutDownloadAfterBytes { get; set; } = long.MaxValue;

        /// <summary>How many connections to cut for uploads (then uploads pass untouched); unlimited by default.</summary>
        public long UploadCuts { get { return Interlocked.Read(ref _uploadCutsLeft); } set { Interlocked.Exchange(ref _uploadCutsLeft, value); } }

        /// <summary>How many connections to cut for downloads (then downloads pass untouched); unlimited by default.</summary>
        public long DownloadCuts { get { return Interlocked.Read(ref _downloadCutsLeft); } set { Interlocked.Exchange(ref _downloadCutsLeft, value); } }

        /// <summary>A connection stalls once the client has sent this many bytes over it.</summary>
        public long StallUploadAfterBytes { get; set; } = long.MaxValue;

        /// <summary>A connection stalls once the server has sent this many bytes over it.</summary>
        public long StallDownloadAfterBytes { get; set; } = long.MaxValue;

        /// <summary>How many connections to stall for uploads; unlimited by default.</summary>
        public long UploadStalls { get { return Interlocked.Read(ref _uploadStallsLeft); } set { Interlocked.Exchange(ref _uploadStallsLeft, value); } }

        /// <summary>How many connections to stall for downloads; unlimited by default.</summary>
        public long DownloadStalls { get { return Interlocked.Read(ref _downloadStallsLeft); } set { Interlocked.Exchange(ref _downloadStallsLeft, value); } }

        /// <summary>Connections stalled so far.</summary>
        public int Stalls { get { return Volatile.Read(ref _stalls); } }

        /// <summary>Connections cut so far.</summary>
        public int Cuts { get { return Volatile.Read(ref _cuts); } }

        private void AcceptLoop()
        {
            while (!_disposed)
            {
                Socket client;
                try { client = _listener.AcceptSocket(); }
                catch (Exception) { return; }
                Task.Run(() => Serve(client));
            }
        }

        private void Serve(Socket client)
        {
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try { server.Connect(_targetHost, _targetPort); }
            catch (Exception) { Reset(client); server.Dispose(); return; }
            lock (_open) { _open.Add(client); _open.Add(server); }
            var cut = new CancellationTokenSource();
            Task up = Task.Run(() => Pump(client, server, true, cut, client, server));
            Task down = Task.Run(() => Pump(server, client, false, cut, client, server));
            Task.WhenAll(up, down).ContinueWith(_ =>
            {
                lock (_open) { _open.Remove(client); _open.Remove(server); }
                client.Dispose();
                server.Dispose();
                cut.Dispose();
            });
        }

        private void Pump(Socket from, Socket to, bool upload, CancellationTokenSource cut, Socket client, Socket server)
        {
            var buffer = new byte[64 * 1024];
            long carried = 0;
            try
            {
                while (!cut.IsCancellationRequested)
                {
                    int n = from.Receive(buffer);
                    if (n == 0) { try { to.Shutdown(SocketShutdown.Send); } catch (Exception) { } return; }
                    long limit = upload ? CutUploadAfterBytes : CutDownloadAfterBytes;
                    if (carried + n > limit && TakeCut(upload))
                    {
                        int allowed = (int)Math.Max(0, limit - carried);
                        if (allowed > 0) to.Send(buffer, 0, allowed, SocketFlags.None);
                        Interlocked.Increment(ref _cuts);
                        cut.Cancel();
                        Reset(client);
                        Reset(server);
                        return;
                    }
                    long stallAt = upload ? StallUploadAfterBytes : StallDownloadAfterBytes;
                    if (carried + n > stallAt && TakeStall(upload))
                    {
                        int allowed = (int)Math.Max(0, stallAt - carried);
                        if (allowed > 0) to.Send(buffer, 0, allowed, SocketFlags.None);
                        Interlocked.Increment(ref _stalls);
                        // Forward nothing more this way, and read nothing: the connection stays open until the other
                        // direction ends it or the proxy is disposed.
                        WaitHandle.WaitAny(new[] { cut.Token.WaitHandle, _released });
                        return;
                    }
                    carried += n;
                    int sent = 0;
                    while (sent < n) sent += to.Send(buffer, sent, n - sent, SocketFlags.None);
                }
            }
            catch (Exception)
            {
                cut.Cancel();
                Reset(client);
                Reset(server);
            }
        }

        private bool TakeCut(bool upload) { return upload ? Take(ref _uploadCutsLeft) : Take(ref _downloadCutsLeft); }

        private bool TakeStall(bool upload) { return upload ? Take(ref _uploadStallsLeft) : Take(ref _downloadStallsLeft); }

        private static bool Take(ref long left)
        {
            if (Interlocked.Read(ref left) <= 0) return false;
            Interlocked.Decrement(ref left);
            return true;
        }

        private static void Reset(Socket s)
        {
            try { s.LingerState = new LingerOption(true, 0); } catch (Exception) { }
            try { s.Close(); } catch (Exception) { }
        }

        public void Dispose()
        {
            _disposed = true;
            _released.Set();
            try { _listener.Stop(); } catch (Exception) { }
            lock (_open) { foreach (var s in _open.ToArray()) Reset(s); }
        }
    }
}
