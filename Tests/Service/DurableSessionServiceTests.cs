using System.Text.Json;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// <c>serve</c> with a SQLite session store, end to end: keys evicted to the store and keys carried over a graceful
/// restart continue from their stored state, with bitwise the outputs of an uninterrupted run without a store, and a
/// replayed record is answered as a duplicate instead of being applied twice.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class DurableSessionServiceTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int Keys = 12;
    private const int StepsPerKey = 6;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-durable-{Guid.NewGuid():N}");

    [Fact]
    public async Task Keys_evicted_to_the_store_and_carried_over_a_restart_give_bitwise_the_outputs_of_an_uninterrupted_run()
    {
        // The reference: every record through one service that keeps every key in memory.
        Dictionary<(string Key, long Seq), string> expected;
        await using (var reference = await RunningService.StartAsync())
        {
            expected = Outputs(await ExchangeAsync(reference, Records(1, StepsPerKey)));
        }

        Assert.Equal(Keys * StepsPerKey, expected.Count);

        // Durable: at most 4 live keys (so keys are evicted to the store and restored all along), the first half of
        // the records, a graceful stop (the drain's checkpoint), a new process on the same store, the second half.
        var file = Path.Combine(_folder, "sessions.db");
        string[] settings =
        [
            $"--LstmStream:Sessions:Store={file}", "--LstmStream:Sessions:Buckets=8", "--LstmStream:Batch:MaxRows=4",
            "--LstmStream:Sessions:MaxLiveKeys=4",
        ];
        var half = StepsPerKey / 2;
        Dictionary<(string Key, long Seq), string> first;
        await using (var service = await RunningService.StartAsync(settings))
        {
            first = Outputs(await ExchangeAsync(service, Records(1, half)));
            Assert.Equal(0, await service.StopAsync());
            Assert.Contains(service.Logs, l => l.Contains("Final checkpoint", StringComparison.Ordinal));
        }

        Dictionary<(string Key, long Seq), string> second;
        List<string> replayed;
        await using (var service = await RunningService.StartAsync(settings))
        {
            second = Outputs(await ExchangeAsync(service, Records(half + 1, StepsPerKey)));

            // Replaying a record every key has already applied changes nothing and is answered as a duplicate.
            replayed = await ExchangeAsync(service, Records(half, half));
            var again = Outputs(await ExchangeAsync(service, Records(StepsPerKey + 1, StepsPerKey + 1)));
            using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
            Assert.Matches("lstmstream_sessions_duplicates_total(\\{[^}]*\\})? " + Keys + "(\\s|$)", await http.GetStringAsync("metrics"));

            // The step after the replay continues from the state before it: as a reference run with that one step more.
            await using var longer = await RunningService.StartAsync();
            var longerOutputs = Outputs(await ExchangeAsync(longer, Records(1, StepsPerKey + 1)));
            foreach (var (id, y) in again) Assert.Equal(longerOutputs[id], y);
        }

        foreach (var (id, y) in first) Assert.Equal(expected[id], y);
        foreach (var (id, y) in second) Assert.Equal(expected[id], y);
        Assert.Equal(Keys * half, first.Count);
        Assert.Equal(Keys * (StepsPerKey - half), second.Count);
        Assert.Equal(Keys, replayed.Count);
        foreach (var line in replayed)
        {
            var record = JsonDocument.Parse(line).RootElement;
            Assert.True(record.GetProperty("duplicate").GetBoolean(), line);
            Assert.Equal(half, record.GetProperty("seq").GetInt64());
            Assert.False(record.TryGetProperty("y", out _), line);
        }
    }

    /// <summary>Records of every key for seq <paramref name="from"/>..<paramref name="to"/>, keys interleaved.</summary>
    private static List<string> Records(int from, int to)
    {
        var records = new List<string>();
        for (var seq = from; seq <= to; seq++)
        {
            for (var k = 0; k < Keys; k++)
            {
                records.Add(NdjsonClient.Record($"sensor-{k}", seq, 0.1f * k - 0.5f, MathF.Sin(seq + k), 0.25f * seq, -0.125f * k));
            }
        }

        return records;
    }

    private static async Task<List<string>> ExchangeAsync(RunningService service, List<string> records)
    {
        using var client = await service.ConnectAsync();
        return await NdjsonClient.ExchangeAsync(client, records, Timeout);
    }

    /// <summary>Each output's y as written (shortest round-trip text: equal text is equal bits), by key and seq.</summary>
    private static Dictionary<(string Key, long Seq), string> Outputs(List<string> lines)
    {
        var outputs = new Dictionary<(string, long), string>();
        foreach (var line in lines)
        {
            var record = JsonDocument.Parse(line).RootElement;
            Assert.True(record.TryGetProperty("y", out var y), line);
            outputs.Add((record.GetProperty("key").GetString()!, record.GetProperty("seq").GetInt64()), y.GetRawText());
        }

        return outputs;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
