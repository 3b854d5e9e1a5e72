using LstmStream.Hosting.Channels;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Channels;

[Collection(ServiceHostCollection.Name)]
public sealed class SimulatorIngressTests
{
    [Fact]
    public async Task The_simulated_source_feeds_the_pipeline_and_logs_labelled_counts_and_samples()
    {
        await using var service = await RunningService.StartAsync(
            "--LstmStream:Simulator:Enabled=true", "--LstmStream:Simulator:RecordsPerSecond=2000",
            "--LstmStream:Simulator:Keys=8", "--LstmStream:Simulator:LogInterval=00:00:00.200",
            "--LstmStream:StatisticsInterval=00:00:00.200");
        var line = await service.WaitForLogAsync($"sample output {SimulatorIngress.KeyPrefix}", TimeSpan.FromSeconds(30));
        Assert.Contains("SIMULATED source:", line, StringComparison.Ordinal);
        Assert.Contains(service.Logs, l => l.Contains("SIMULATED sensor source is ON", StringComparison.Ordinal));
        Assert.Contains(service.Runtime.StartupLine!, service.Logs.First(l => l.Contains("LstmStream serving", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("SIMULATED", service.Runtime.StartupLine!, StringComparison.Ordinal);
        Assert.Equal(8, service.Hub.Handle.Sessions.LiveKeys);
        Assert.Contains("statistics:", await service.WaitForLogAsync("), 8 live keys", TimeSpan.FromSeconds(30)), StringComparison.Ordinal);
        Assert.Equal(0, await service.StopAsync());
    }
}
