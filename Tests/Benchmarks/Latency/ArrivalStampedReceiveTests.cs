using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LstmStream.Benchmarks.Latency;

namespace LstmStream.Tests.Benchmarks.Latency;

/// <summary>Non-blocking reads stamped with the time their data arrived, on a real loopback connection.</summary>
public sealed class ArrivalStampedReceiveTests
{
    [Fact]
    public void A_read_returns_nothing_when_nothing_arrived_its_bytes_with_a_time_between_the_write_and_the_read_and_minus_one_after_the_close()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        ArrivalStampedReceive.Prepare(client);
        var buffer = new byte[64];

        Assert.Equal(0, ArrivalStampedReceive.Receive(client, buffer, out _));

        var beforeWrite = Stopwatch.GetTimestamp();
        server.Send("hello\n"u8);
        Assert.True(client.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "the bytes never arrived");
        var read = ArrivalStampedReceive.Receive(client, buffer, out var arrival);
        var afterRead = Stopwatch.GetTimestamp();

        Assert.Equal("hello\n", Encoding.UTF8.GetString(buffer, 0, read));
        Assert.InRange(arrival, beforeWrite, afterRead);

        server.Shutdown(SocketShutdown.Send);
        Assert.True(client.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "the close never arrived");
        Assert.Equal(-1, ArrivalStampedReceive.Receive(client, buffer, out _));
    }
}
