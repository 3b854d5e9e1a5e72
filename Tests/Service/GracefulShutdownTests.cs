using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Channels;

namespace LstmStream.Tests.Service;

[Collection(ServiceHostCollection.Name)]
public sealed class GracefulShutdownTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Stopping_with_steps_in_flight_delivers_the_output_of_every_accepted_step_then_exits_0()
    {
        await using var service = await RunningService.StartAsync("--LstmStream:Tcp:MaxInFlightRecords=1024");
        // A modest receive window keeps what the socket buffers hold (and the test's reading time) small.
        using var client = await service.ConnectAsync(receiveBufferBytes: 64 * 1024);
        var stream = client.GetStream();

        // The client sends much more than the socket buffers hold and reads nothing yet, so the service has
        // accepted records whose outputs it cannot deliver when the stop comes.
        const int keys = 64;
        const int sent = 200_000;
        var sending = Task.Run(async () =>
        {
            var text = new StringBuilder();
            try
            {
                for (var i = 0; i < sent; i++)
                {
                    text.Append(NdjsonClient.Record($"s{i % keys}", i / keys, i % 7, 1, -1, 0.5f)).Append('\n');
                    if (text.Length < 32 * 1024) continue;
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
                    text.Clear();
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The service closes the connection once it has delivered everything it accepted.
            }
        });

        // Wait until the connection is stuck: socket buffers full, credit held, nothing more accepted.
        PipelineConnection? connection = null;
        var deadline = DateTime.UtcNow + Timeout;
        long last = -1;
        while ((connection = service.Hub.Connections.FirstOrDefault()) is null || connection.Accepted != last || connection.Credit.InUse == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the connection never got stuck");
            last = connection?.Accepted ?? -1;
            await Task.Delay(300);
        }

        var stopping = service.StopAsync();
        // The drain has begun (its first log line), and it cannot end while this client reads nothing.
        await service.WaitForLogAsync("Stopping: no new input", Timeout);
        Assert.False(stopping.IsCompleted, "the stop did not wait for the outputs of accepted steps");

        var outputs = await NdjsonClient.ReadAllLinesAsync(stream, Timeout);
        Assert.Equal(0, await stopping);
        await sending;

        // Exactly the accepted steps were answered, each key's steps from seq 0 in order with no gap.
        Assert.Equal(connection.Accepted, outputs.Count);
        Assert.Equal(connection.Accepted, connection.Delivered);
        Assert.True(outputs.Count < sent, "the stop came after everything was sent; nothing was in flight");
        foreach (var (key, lines) in NdjsonClient.ByKey(outputs))
        {
            var seqs = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()).ToList();
            Assert.Equal(Enumerable.Range(0, seqs.Count).Select(i => (long)i), seqs);
        }
    }
}
