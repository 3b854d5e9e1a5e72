using System.Text.Json;

namespace LstmStream.Tests.Service;

/// <summary>LstmStream:Sessions in the running service: idle eviction and the live-key bound, counted and logged.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class SessionLifecycleServiceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Idle_keys_are_evicted_and_restart_from_zero_state()
    {
        await using var service = await RunningService.StartAsync("--LstmStream:Sessions:IdleTimeout=00:00:02");
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        var first = await ExchangeAsync(service, NdjsonClient.Record("idle", 0, 1, 2, 3, 4));
        var second = await ExchangeAsync(service, NdjsonClient.Record("idle", 1, 1, 2, 3, 4));
        Assert.NotEqual(Y(first[0]), Y(second[0])); // within the timeout the state carries on

        var deadline = DateTime.UtcNow + Timeout;
        JsonElement counts;
        do
        {
            await Task.Delay(100);
            counts = JsonDocument.Parse(await http.GetStringAsync("admin/counts")).RootElement;
        }
        while (counts.GetProperty("liveKeys").GetInt32() != 0 && DateTime.UtcNow < deadline);

        Assert.Equal(0, counts.GetProperty("liveKeys").GetInt32());
        Assert.Equal(1, counts.GetProperty("keysEvicted").GetInt64());
        var third = await ExchangeAsync(service, NdjsonClient.Record("idle", 2, 1, 2, 3, 4));
        Assert.Equal(Y(first[0]), Y(third[0]));
        Assert.Matches("lstmstream_keys_evicted_total(\\{[^}]*\\})? 1(\\s|$)", await http.GetStringAsync("metrics"));
    }

    [Fact]
    public async Task The_live_key_bound_evicts_the_least_recently_used_keys()
    {
        await using var service = await RunningService.StartAsync("--LstmStream:Batch:MaxRows=4", "--LstmStream:Sessions:MaxLiveKeys=8");
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        using var client = await service.ConnectAsync();

        // The first key holds a carriage return and a terminal escape (JSON-escaped on the wire).
        var records = Enumerable.Range(0, 40)
            .Select(i => NdjsonClient.Record(i == 0 ? "evil\\r\\u001b[2J" : $"flood-{i}", 0, 1, 2, 3, 4)).ToList();
        var replies = await NdjsonClient.ExchangeAsync(client, records, Timeout);

        Assert.Equal(40, replies.Count);
        var counts = JsonDocument.Parse(await http.GetStringAsync("admin/counts")).RootElement;
        Assert.Equal(8, counts.GetProperty("liveKeys").GetInt32());
        Assert.Equal(32, counts.GetProperty("keysEvicted").GetInt64());

        // Evictions are logged as one summary line (at the interval, or here at the drain), not a line per key,
        // and the key's control characters arrive escaped.
        Assert.Equal(0, await service.StopAsync());
        var evicted = Assert.Single(service.Logs, l => l.Contains("Evicted", StringComparison.Ordinal));
        Assert.EndsWith(
            "Evicted 32 keys in the last 00:01:00: 32 at the live-key bound 8 (least recently used), 0 idle for 00:10:00; " +
            "e.g. 'evil\\x0d\\x1b[2J', 'flood-1', 'flood-2'", evicted);
        Assert.DoesNotContain(service.Logs, l => l.Contains('\r') || l.Contains('\u001b'));
    }

    [Fact]
    public async Task A_bound_below_the_batch_size_stops_the_start_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunningService.StartAsync("--LstmStream:Batch:MaxRows=64", "--LstmStream:Sessions:MaxLiveKeys=10"));

        Assert.Contains("LstmStream:Sessions:MaxLiveKeys", error.Message, StringComparison.Ordinal);
    }

    /// <summary>One record on a connection of its own (an exchange closes its connection).</summary>
    private static async Task<List<string>> ExchangeAsync(RunningService service, string record)
    {
        using var client = await service.ConnectAsync();
        return [.. await NdjsonClient.ExchangeAsync(client, [record], Timeout)];
    }

    private static float Y(string line) => JsonDocument.Parse(line).RootElement.GetProperty("y")[0].GetSingle();
}
