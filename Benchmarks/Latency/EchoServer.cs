using System.Net;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The floor: a loopback TCP server that writes back every byte it reads, at once (one thread per connection,
/// Nagle off). The load generator's records come back as they went, <c>seq</c> included, so the same generator
/// measures the round trip of the machine's loopback and scheduling with no engine in it. Its threads block in their
/// reads, as a server's do; with <c>busyPoll</c> they spin on non-blocking reads instead (a core each while
/// connected), so the difference between the two is what waking a sleeping thread costs on this machine.
/// </summary>
internal sealed class EchoServer : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _accepted = [];
    private readonly bool _busyPoll;

    public EchoServer(bool busyPoll = false)
    {
        _busyPoll = busyPoll;
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
            new Thread(() => Echo(socket, _busyPoll)) { IsBackground = true, Name = "echo" }.Start();
        }
    }

    /// <summary>Whether the threads spin on non-blocking reads instead of blocking in them.</summary>
    public bool BusyPoll => _busyPoll;

    private static void Echo(Socket socket, bool busyPoll)
    {
        var buffer = new byte[1 << 16];
        try
        {
            socket.Blocking = !busyPoll;
            while (true)
            {
                var read = Spun(socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out var error), error);
                if (read < 0) continue;
                if (read == 0) break;
                var sent = 0;
                while (sent < read)
                {
                    var n = Spun(socket.Send(buffer, sent, read - sent, SocketFlags.None, out error), error);
                    if (n > 0) sent += n;
                }
            }

            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The bytes a call moved, or -1 when a non-blocking call found nothing to do now (spin and try again).</summary>
    private static int Spun(int bytes, SocketError error) => error switch
    {
        SocketError.Success => bytes,
        SocketError.WouldBlock => -1,
        _ => throw new SocketException((int)error),
    };

    public void Dispose()
    {
        _listener.Dispose();
        lock (_accepted)
        {
            foreach (var socket in _accepted) socket.Dispose();
        }
    }
}
