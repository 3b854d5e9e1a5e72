using System.Net;
using System.Text.Json;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Operations;

[Collection(ServiceHostCollection.Name)]
public sealed class OperationsEndpointTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Metrics_health_and_admin_report_and_act_on_the_running_pipeline()
    {
        await using var service = await RunningService.StartAsync();
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };

        var health = await http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"ok\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using (var client = await service.ConnectAsync())
        {
            var records = Enumerable.Range(0, 30).Select(i => NdjsonClient.Record($"k{i % 3}", i / 3, 1, 2, 3, 4)).Append("garbage").ToList();
            var replies = await NdjsonClient.ExchangeAsync(client, records, Timeout);
            Assert.Equal(31, replies.Count);
        }

        var counts = JsonDocument.Parse(await http.GetStringAsync("admin/counts")).RootElement;
        Assert.Equal(3, counts.GetProperty("liveKeys").GetInt32());
        Assert.Equal(3, counts.GetProperty("keysCreated").GetInt64());
        Assert.Equal(0, counts.GetProperty("keysEnded").GetInt64());

        var drop = JsonDocument.Parse(await (await http.PostAsync("admin/keys/drop?key=k1", null)).Content.ReadAsStringAsync()).RootElement;
        Assert.True(drop.GetProperty("live").GetBoolean());
        var again = JsonDocument.Parse(await (await http.PostAsync("admin/keys/drop?key=k1", null)).Content.ReadAsStringAsync()).RootElement;
        Assert.False(again.GetProperty("live").GetBoolean());
        var reset = JsonDocument.Parse(await (await http.PostAsync("admin/keys/reset?key=k2", null)).Content.ReadAsStringAsync()).RootElement;
        Assert.True(reset.GetProperty("live").GetBoolean());
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("admin/keys/drop", null)).StatusCode);

        counts = JsonDocument.Parse(await http.GetStringAsync("admin/counts")).RootElement;
        Assert.Equal(2, counts.GetProperty("liveKeys").GetInt32()); // k1 dropped; k2 reset stays live
        Assert.Equal(1, counts.GetProperty("keysEnded").GetInt64());

        // A dropped key and a reset key start again from zero state: their next outputs equal a fresh key's first.
        using (var client = await service.ConnectAsync())
        {
            var first = await NdjsonClient.ExchangeAsync(client,
                [NdjsonClient.Record("fresh", 0, 1, 2, 3, 4), NdjsonClient.Record("k1", 10, 1, 2, 3, 4), NdjsonClient.Record("k2", 10, 1, 2, 3, 4)], Timeout);
            var y = first.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("y")[0].GetSingle()).ToList();
            Assert.Equal(y[0], y[1]);
            Assert.Equal(y[0], y[2]);
        }

        var metrics = await http.GetStringAsync("metrics");
        foreach (var name in new[]
                 {
                     "lstmstream_steps_total", "lstmstream_batch_rows_bucket", "lstmstream_record_latency_seconds_bucket",
                     "lstmstream_keys_live", "lstmstream_keys_evicted_total", "lstmstream_records_rejected_total",
                     "lstmstream_records_received_total", "lstmstream_backend{",
                 })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }

        Assert.Contains("backend=\"managed\"", metrics, StringComparison.Ordinal);
        Assert.Matches("lstmstream_steps_total(\\{[^}]*\\})? 33(\\s|$)", metrics[metrics.IndexOf("lstmstream_steps_total{", StringComparison.Ordinal)..]);
    }

    [Fact]
    public async Task Health_reports_unavailable_once_the_service_is_stopping()
    {
        var service = await RunningService.StartAsync();
        await using (service)
        {
            var runtime = service.Runtime;
            Assert.True(runtime.IsHealthy);
            Assert.Equal(0, await service.StopAsync());
            Assert.False(runtime.IsHealthy);
        }
    }
}
