using System.Net;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop generator's TCP connections: Nagle off, non-blocking, each read stamped with the time its data
/// arrived (<see cref="ArrivalStampedReceive"/>). Connection <c>c</c> goes to <c>endpoints[c mod count]</c>.
/// </summary>
internal sealed class LoopbackTcpConnections : IOpenLoopConnections, IDisposable
{
    private readonly Socket[] _sockets;

    public LoopbackTcpConnections(IReadOnlyList<IPEndPoint> endpoints, int connections)
    {
        _sockets = new Socket[connections];
        try
        {
            for (var c = 0; c < connections; c++)
            {
                var endpoint = endpoints[c % endpoints.Count];
                _sockets[c] = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                _sockets[c].Connect(endpoint);
                ArrivalStampedReceive.Prepare(_sockets[c]);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int TrySend(int connection, ReadOnlySpan<byte> bytes)
    {
        var sent = _sockets[connection].Send(bytes, SocketFlags.None, out var error);
        return error switch
        {
            SocketError.Success => sent,
            SocketError.WouldBlock => 0,
            // The peer is gone: what it did not take is lost (counted as missing), the reads see the close.
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => bytes.Length,
            _ => throw new SocketException((int)error),
        };
    }

    public int TryReceive(int connection, Span<byte> into, out long arrival) => ArrivalStampedReceive.Receive(_sockets[connection], into, out arrival);

    public void FinishSending(int connection) => _sockets[connection].Shutdown(SocketShutdown.Send);

    public void Dispose()
    {
        foreach (var socket in _sockets) socket?.Dispose();
    }
}
