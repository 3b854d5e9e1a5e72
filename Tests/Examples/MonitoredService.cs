using LstmStream.Tests.Service;

namespace LstmStream.Tests.Examples;

/// <summary>
/// <c>serve</c> under the simulator with one TCP client that sent good lines and one bad line, so every
/// instrument (rejected records included) has a value, and the text of its <c>/metrics</c>.
/// </summary>
internal static class MonitoredService
{
    public static async Task<RunningService> StartAsync()
    {
        var service = await RunningService.StartAsync(
            "--LstmStream:Simulator:Enabled=true", "--LstmStream:Simulator:Keys=8", "--LstmStream:Simulator:RecordsPerSecond=200");
        try
        {
            using var client = await service.ConnectAsync();
            var lines = new[] { NdjsonClient.Record("tcp-1", 0, 0.1f, 0.2f, 0.3f, 0.4f), "{\"key\":\"tcp-1\",\"x\":[1]}", NdjsonClient.Record("tcp-2", 0, 1, 2, 3, 4) };
            var answers = await NdjsonClient.ExchangeAsync(client, lines, TimeSpan.FromSeconds(30));
            Assert.Equal(3, answers.Count);
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    public static async Task<string> MetricsAsync(RunningService service)
    {
        using var http = new HttpClient { BaseAddress = service.HttpBase };
        return await http.GetStringAsync("metrics");
    }

    /// <summary>The sample names in Prometheus text (e.g. <c>lstmstream_record_latency_seconds_bucket</c>).</summary>
    public static HashSet<string> SampleNames(string metrics) =>
        metrics.Split('\n')
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line[..line.IndexOfAny(['{', ' '])])
            .ToHashSet(StringComparer.Ordinal);
}
