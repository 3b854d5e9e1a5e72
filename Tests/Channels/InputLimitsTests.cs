using System.Text.Json;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Channels;

/// <summary><c>Limits:MaxLineBytes</c> and <c>Limits:MaxKeyBytes</c>: one pair of limits, applied by every channel of <c>serve</c>.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class InputLimitsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>A valid record of key <c>long</c> padded with an unknown field to more than 100 bytes.</summary>
    private static readonly string LongLine = NdjsonClient.Record("long", 0, 1, 2, 3, 4)[..^1] + $",\"pad\":\"{new string('p', 100)}\"}}";

    [Fact]
    public async Task On_TCP_a_line_or_key_over_the_configured_limits_gets_an_error_record_naming_the_limit_and_the_rest_goes_on()
    {
        await using var service = await RunningService.StartAsync("--LstmStream:Limits:MaxLineBytes=100", "--LstmStream:Limits:MaxKeyBytes=8");
        using var client = await service.ConnectAsync();

        var lines = await NdjsonClient.ExchangeAsync(client, [LongLine, NdjsonClient.Record("nine-byte", 1, 1, 2, 3, 4), NdjsonClient.Record("eight-by", 2, 1, 2, 3, 4)], Timeout);

        AssertAnswers(lines);
    }

    [Fact]
    public async Task On_stdin_the_same_limits_apply()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        using var service = ServeProcess.Start(["--LstmStream:Math:Backend=managed", "--LstmStream:Limits:MaxLineBytes=100", "--LstmStream:Limits:MaxKeyBytes=8"]);
        using var timeout = new CancellationTokenSource(Timeout);

        await service.WriteLinesAsync(LongLine, NdjsonClient.Record("nine-byte", 1, 1, 2, 3, 4), NdjsonClient.Record("eight-by", 2, 1, 2, 3, 4));

        AssertAnswers(await service.ReadLinesAsync(3, timeout.Token));
        Assert.Equal(0, (await service.StopAsync(timeout.Token)).Exit);
    }

    private static void AssertAnswers(List<string> lines)
    {
        Assert.Equal(3, lines.Count);
        var records = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var tooLong = Assert.Single(records, r => r.TryGetProperty("line", out var line) && line.GetInt64() == 1);
        Assert.Equal("line is longer than 100 bytes", tooLong.GetProperty("error").GetString());
        var badKey = Assert.Single(records, r => r.TryGetProperty("line", out var line) && line.GetInt64() == 2);
        Assert.Equal("key", badKey.GetProperty("field").GetString());
        Assert.Contains("more than the 8 bytes a key may have", badKey.GetProperty("error").GetString(), StringComparison.Ordinal);
        var output = Assert.Single(records, r => r.TryGetProperty("y", out _));
        Assert.Equal("eight-by", output.GetProperty("key").GetString());
    }
}
