using System.Text.Json;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;

namespace LstmStream.Tests.Service;

/// <summary>
/// Real <c>lstmstream serve</c> processes on one SQLite session store: a restart with another model does not apply the
/// stored states of the first (the keys start from zero, counted in the metrics and logged), and a restart with another
/// bucket count is refused before anything is served.
/// </summary>
public sealed class DurableSessionProcessTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private const int Keys = 5;

    // The managed kernels compute a row the same way in any batch: outputs of two processes compare bit for bit.
    private const string Managed = "--LstmStream:Math:Backend=managed";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-durable-process-{Guid.NewGuid():N}");
    private readonly string _store;

    public DurableSessionProcessTests()
    {
        Directory.CreateDirectory(_folder);
        _store = Path.Combine(_folder, "sessions.db");
    }

    [Fact]
    public async Task A_restart_with_another_model_does_not_apply_the_stored_states_of_the_first()
    {
        using var cancel = new CancellationTokenSource(Timeout);
        string[] store = [$"--LstmStream:Sessions:Store={_store}", "--LstmStream:Sessions:Buckets=8", Managed];
        using (var first = ServeProcess.Start(store))
        {
            await first.WriteLinesAsync(Records(1, 3));
            Assert.DoesNotContain(await first.ReadLinesAsync(Keys * 3, cancel.Token), l => l.Contains("duplicate", StringComparison.Ordinal));
            var (exit, log) = await first.StopAsync(cancel.Token);
            Assert.True(exit == 0, log);
            Assert.Contains("Final checkpoint", log);
        }

        // Another model with the same input size: its keys must start from zero state, as in a service without a store.
        var other = Path.Combine(_folder, "other.onnx");
        OnnxModelWriter.Write(RandomModel.Create(4, [8], seed: 5), other);
        List<string> fresh;
        using (var reference = ServeProcess.Start([Managed], model: other))
        {
            await reference.WriteLinesAsync(Records(4, 4));
            fresh = await reference.ReadLinesAsync(Keys, cancel.Token);
            Assert.Equal(0, (await reference.StopAsync(cancel.Token)).Exit);
        }

        var port = RunningService.FreePort();
        using var second = ServeProcess.Start([.. store, "--LstmStream:Http:Enabled=true", $"--LstmStream:Http:Endpoint=127.0.0.1:{port}"], model: other);
        await second.WriteLinesAsync(Records(4, 4));
        var outputs = await second.ReadLinesAsync(Keys, cancel.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = Timeout };
        var metrics = await http.GetStringAsync("metrics", cancel.Token);
        var (secondExit, secondLog) = await second.StopAsync(cancel.Token);

        Assert.Equal(ByKey(fresh), ByKey(outputs));
        Assert.Matches("lstmstream_sessions_restores_refused_total(\\{[^}]*\\})? " + Keys + "(\\s|$)", metrics);
        Assert.Contains("not the served one: the key starts from zero state", secondLog);
        Assert.Equal(0, secondExit);
    }

    [Fact]
    public async Task A_restart_with_another_bucket_count_is_refused_naming_both_counts_and_the_setting()
    {
        using var cancel = new CancellationTokenSource(Timeout);
        using (var first = ServeProcess.Start([$"--LstmStream:Sessions:Store={_store}", "--LstmStream:Sessions:Buckets=8"]))
        {
            await first.WriteLinesAsync(Records(1, 1));
            await first.ReadLinesAsync(Keys, cancel.Token);
            Assert.Equal(0, (await first.StopAsync(cancel.Token)).Exit);
        }

        using var second = ServeProcess.Start([$"--LstmStream:Sessions:Store={_store}", "--LstmStream:Sessions:Buckets=16"]);
        var (exit, log) = await second.ExitAsync(cancel.Token);

        Assert.Equal(2, exit);
        Assert.Contains("the session store holds sessions in 8 buckets, but LstmStream:Sessions:Buckets is 16", log);
        Assert.Contains(_store, log);
    }

    private static string[] Records(int from, int to)
    {
        var records = new List<string>();
        for (var seq = from; seq <= to; seq++)
        {
            for (var k = 0; k < Keys; k++) records.Add(NdjsonClient.Record($"sensor-{k}", seq, 0.2f * k - 0.4f, MathF.Cos(seq + k), 0.3f * seq, -0.1f * k));
        }

        return [.. records];
    }

    /// <summary>Each key's outputs (y as written: equal text is equal bits).</summary>
    private static Dictionary<string, string> ByKey(List<string> lines) =>
        lines.Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(r => r.GetProperty("key").GetString()!, r => r.GetProperty("y").GetRawText());

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
