using System.Net;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

internal static class FreePort
{
    /// <summary>A loopback port nothing listens on now (the OS picks it).</summary>
    public static int Next()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
