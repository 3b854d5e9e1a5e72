using System.Text;
using System.Text.Json;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Channels;

/// <summary><c>Tcp:MaxConnections</c>: a connection beyond the limit is refused at once, counted, and the others go on.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class TcpConnectionLimitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_connection_beyond_the_limit_gets_one_error_record_and_is_closed_while_the_open_ones_work()
    {
        await using var service = await RunningService.StartAsync("--LstmStream:Tcp:MaxConnections=2");
        using var first = await service.ConnectAsync();
        using var second = await service.ConnectAsync();
        await WaitForLogAsync(service, "connected", 2);

        using (var third = await service.ConnectAsync())
        {
            var lines = await NdjsonClient.ReadAllLinesAsync(third.GetStream(), Timeout);
            var refusal = JsonDocument.Parse(Assert.Single(lines)).RootElement;
            Assert.Equal("connection", refusal.GetProperty("field").GetString());
            Assert.Equal("the service has 2 connections open, its limit (Tcp:MaxConnections); try again later", refusal.GetProperty("error").GetString());
        }

        var replies = await NdjsonClient.ExchangeAsync(first, [NdjsonClient.Record("held-open", 0, 1, 2, 3, 4)], Timeout);
        Assert.Equal("held-open", JsonDocument.Parse(Assert.Single(replies)).RootElement.GetProperty("key").GetString());

        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        var metrics = await http.GetStringAsync("metrics");
        Assert.Matches("lstmstream_tcp_connections_refused_total\\{[^}]*reason=\"limit\"[^}]*\\} 1(\\s|$)", metrics);
        Assert.Matches("lstmstream_tcp_connections_refused_total\\{[^}]*reason=\"tls\"[^}]*\\} 0(\\s|$)", metrics);
    }

    [Fact]
    public async Task A_connection_limit_below_one_stops_the_start_naming_the_setting()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningService.StartAsync("--LstmStream:Tcp:MaxConnections=0"));

        Assert.Contains("LstmStream:Tcp:MaxConnections: must be positive, got 0", e.Message, StringComparison.Ordinal);
    }

    private static async Task WaitForLogAsync(RunningService service, string text, int count)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (service.Logs.Count(l => l.Contains(text, StringComparison.Ordinal)) < count)
            await Task.Delay(10, deadline.Token);
    }
}
