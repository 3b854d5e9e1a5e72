using System.Text.Json;

namespace LstmStream.Tests.Service;

/// <summary>The service as a real process: stdin/stdout channel and SIGTERM.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class ServiceProcessTests
{
    [Fact]
    public async Task Stdin_records_are_answered_on_stdout_and_SIGTERM_stops_with_exit_0()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        using var service = ServeProcess.Start(["--LstmStream:Math:Backend=managed"]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await service.WriteLinesAsync(NdjsonClient.Record("p", 0, 1, 2, 3, 4), "{\"key\":\"p\"}", NdjsonClient.Record("p", 1, 4, 3, 2, 1));
        var lines = await service.ReadLinesAsync(3, timeout.Token);

        Assert.Equal([0L, 1L], lines.Where(l => !l.Contains("\"error\"", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));
        var error = JsonDocument.Parse(lines.Single(l => l.Contains("\"error\"", StringComparison.Ordinal))).RootElement;
        Assert.Equal(2, error.GetProperty("line").GetInt64());
        Assert.Equal("x", error.GetProperty("field").GetString());

        var (exit, log) = await service.StopAsync(timeout.Token);
        Assert.Equal(0, exit);
        Assert.Contains("LstmStream serving", log, StringComparison.Ordinal);
        Assert.Contains("every accepted record's output was delivered", log, StringComparison.Ordinal);
    }
}
