using System.Text;
using System.Text.Json;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Channels;

/// <summary><c>Tcp:IdleTimeout</c> in the running service: a quiet connection is closed with one error record and counted.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class TcpIdleTimeoutTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_connection_quiet_for_the_idle_timeout_after_its_outputs_gets_one_error_record_is_closed_and_counted()
    {
        await using var service = await RunningService.StartAsync("--LstmStream:Tcp:IdleTimeout=00:00:00.5");
        using var client = await service.ConnectAsync();
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(NdjsonClient.Record("quiet", 0, 1, 2, 3, 4) + "\n"));

        // The connection stays open for writing: it is the service that ends it.
        var lines = await NdjsonClient.ReadAllLinesAsync(stream, Timeout);

        Assert.Equal(2, lines.Count);
        Assert.Equal("quiet", JsonDocument.Parse(lines[0]).RootElement.GetProperty("key").GetString());
        var error = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal("connection", error.GetProperty("field").GetString());
        Assert.Equal("nothing received for 0.5 s and nothing pending: the connection is closed (idle timeout)", error.GetProperty("error").GetString());
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        await service.WaitForLogAsync("closed after 1 records", Timeout);
        var metrics = await http.GetStringAsync("metrics");
        Assert.Matches("lstmstream_tcp_connections_idle_closed_total(\\{[^}]*\\})? 1(\\s|$)", metrics);
    }
}
