using System.Net.Sockets;
using System.Text;

namespace LstmStream.Tests.Service;

/// <summary>During the shutdown drain the service stops reading: a client that never stops sending is cut off promptly.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class DrainInputTests
{
    /// <summary>The most a client writes before the test gives up (the service would otherwise read it all).</summary>
    private const long WriteBound = 2L << 30;

    [Fact]
    public async Task A_client_that_keeps_sending_through_the_drain_is_cut_off_after_little_more_than_its_socket_buffers()
    {
        await using var service = await RunningService.StartAsync();
        using var client = await service.ConnectAsync();
        var stream = client.GetStream();
        // The client reads whatever comes back, so its outputs never hold the drain up.
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (await stream.ReadAsync(buffer) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
        });
        var line = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 64).Select(i => NdjsonClient.Record($"flood-{i % 8}", i, 1, 2, 3, 4) + "\n")));
        long written = 0, writtenAtStop = -1;
        Task<int>? stopping = null;
        Exception? cutOff = null;
        try
        {
            while (written < WriteBound)
            {
                await stream.WriteAsync(line);
                written += line.Length;
                if (stopping is null && written >= 1 << 20)
                {
                    writtenAtStop = written;
                    stopping = service.StopAsync();
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            cutOff = e;
        }

        Assert.NotNull(cutOff);
        Assert.Equal(0, await stopping!);
        await reading;
        // Socket buffers on both sides (a few MB on loopback) and the 1 MiB the closing connection reads at most.
        var afterStop = written - writtenAtStop;
        Assert.True(afterStop < 64L << 20, $"the client wrote {afterStop:N0} bytes after the stop before it was cut off");
    }
}
