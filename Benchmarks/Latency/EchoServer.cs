using System.Net;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The floor: a loopback TCP server that writes back every byte it reads, at once (one thread per connection,
/// blocking reads, Nagle off). The load generator's records come back as they went, <c>seq</c> included, so the
/// same generator measures the round trip of the machine's loopback and scheduling with no engine in it.
/// </summary>
internal sealed class EchoServer : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _accepted = [];

    public EchoServer()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Endpoint = (IPEndPoint)_listener.LocalEndPoint!;
        new Thread(Accept) { IsBackground = true, Name = "echo accept" }.Start();
    }

    public IPEndPoint Endpoint { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Connections
    {
        get
        {
            lock (_accepted) return _accepted.Count;
        }
    }

    private void Accept()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            lock (_accepted) _accepted.Add(socket);
            new Thread(() => Echo(socket)) { IsBackground = true, Name = "echo" }.Start();
        }
    }

    private static void Echo(Socket socket)
    {
        var buffer = new byte[1 << 16];
        try
        {
            while (true)
            {
                var read = socket.Receive(buffer);
                if (read == 0) break;
                var sent = 0;
                while (sent < read) sent += socket.Send(buffer, sent, read - sent, SocketFlags.None);
            }

            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        lock (_accepted)
        {
            foreach (var socket in _accepted) socket.Dispose();
        }
    }
}
