using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Cli;
using LstmStream.Tests.Service;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Channels;

[Collection(ServiceHostCollection.Name)]
public sealed class TcpIngressTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Outputs_over_several_concurrent_connections_equal_the_run_verb()
    {
        var sample = Path.Combine(SharedData.RepositoryRoot, "samples", "demo.ndjson");
        var expectedFile = Path.Combine(Path.GetTempPath(), $"service-run-{Guid.NewGuid():N}.ndjson");
        try
        {
            var code = await CliApplication.InvokeAsync(["run", "--model", RunningService.DemoModel, "--input", sample, "--output", expectedFile],
                TextWriter.Null, TextWriter.Null);
            Assert.Equal(0, code);
            var expected = NdjsonClient.ByKey(File.ReadAllLines(expectedFile));

            await using var service = await RunningService.StartAsync();
            // Each key's records go over one of three connections, so per-key order is each connection's order.
            var lines = File.ReadAllLines(sample);
            var parts = Enumerable.Range(0, 3)
                .Select(p => lines.Where(l => Math.Abs(KeyOf(l).GetHashCode(StringComparison.Ordinal)) % 3 == p).ToList()).ToList();
            var clients = new List<TcpClient>();
            foreach (var _ in parts) clients.Add(await service.ConnectAsync());
            var results = await Task.WhenAll(parts.Select((part, i) => NdjsonClient.ExchangeAsync(clients[i], part, Timeout)));
            foreach (var c in clients) c.Dispose();

            for (var i = 0; i < parts.Count; i++)
            {
                Assert.Equal(parts[i].Count, results[i].Count);
                // Outputs come back on the connection that sent the records.
                Assert.Equal(parts[i].Select(KeyOf).ToHashSet(), results[i].Select(KeyOf).ToHashSet());
            }

            var actual = NdjsonClient.ByKey(results.SelectMany(r => r));
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            // Same records in the same order per key; values equal up to float rounding (rows are grouped into
            // matrix multiplies differently than in the run, which may change the last bit).
            foreach (var (key, outputs) in expected)
            {
                Assert.Equal(outputs.Count, actual[key].Count);
                for (var i = 0; i < outputs.Count; i++) AssertSameOutput(outputs[i], actual[key][i]);
            }
        }
        finally
        {
            File.Delete(expectedFile);
        }
    }

    [Fact]
    public async Task Steps_of_one_key_on_different_connections_continue_the_same_state_in_arrival_order()
    {
        var records = Enumerable.Range(0, 4).Select(i => NdjsonClient.Record("shared", i, i, 1 - i, 0.5f * i, -1)).ToList();
        var input = Path.Combine(Path.GetTempPath(), $"service-shared-{Guid.NewGuid():N}.ndjson");
        var output = input + ".out";
        try
        {
            await File.WriteAllLinesAsync(input, records);
            Assert.Equal(0, await CliApplication.InvokeAsync(["run", "--model", RunningService.DemoModel, "--input", input, "--output", output],
                TextWriter.Null, TextWriter.Null));
            var expected = File.ReadAllLines(output);

            await using var service = await RunningService.StartAsync();
            for (var i = 0; i < records.Count; i++)
            {
                // Each step on a new connection, after the previous step's output came back.
                using var client = await service.ConnectAsync();
                var reply = await NdjsonClient.ExchangeAsync(client, [records[i]], Timeout);
                AssertSameOutput(expected[i], Assert.Single(reply));
            }
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    [Fact]
    public async Task Bad_records_get_error_records_on_their_connection_which_stays_open()
    {
        await using var service = await RunningService.StartAsync();
        using var client = await service.ConnectAsync();
        using var other = await service.ConnectAsync();
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
        var send = string.Join('\n',
            NdjsonClient.Record("a", 0, 1, 2, 3, 4),
            "this is not json",
            "{\"key\":\"a\",\"seq\":1,\"x\":[1,2]}",
            NdjsonClient.Record("a", 1, 1, 2, 3, 4)) + "\n";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(send));
        var replies = await NdjsonClient.ReadLinesAsync(reader, 4, Timeout);

        var errors = replies.Where(l => l.Contains("\"error\"", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, errors.Count);
        Assert.Equal([2L, 3L], errors.Select(e => e.GetProperty("line").GetInt64()).Order());
        var lengthError = errors.Single(e => e.GetProperty("line").GetInt64() == 3);
        Assert.Equal("x", lengthError.GetProperty("field").GetString());
        Assert.Equal("a", lengthError.GetProperty("key").GetString());
        var outputs = replies.Where(l => !l.Contains("\"error\"", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([0L, 1L], outputs.Select(o => o.GetProperty("seq").GetInt64()));

        // The same connection goes on working.
        await stream.WriteAsync(Encoding.UTF8.GetBytes(NdjsonClient.Record("a", 2, 4, 3, 2, 1) + "\n"));
        var next = JsonDocument.Parse((await NdjsonClient.ReadLinesAsync(reader, 1, Timeout))[0]).RootElement;
        Assert.Equal(2, next.GetProperty("seq").GetInt64());

        // The other connection saw none of it.
        var otherReplies = await NdjsonClient.ExchangeAsync(other, [NdjsonClient.Record("b", 0, 1, 1, 1, 1)], Timeout);
        Assert.Single(otherReplies);
        Assert.Contains(service.Logs, l => l.Contains("rejected record", StringComparison.Ordinal) && l.Contains("line 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_slow_reader_is_backpressured_with_bounded_buffering_while_others_progress()
    {
        const int limit = 64;
        await using var service = await RunningService.StartAsync($"--LstmStream:Tcp:MaxInFlightRecords={limit}", "--LstmStream:Tcp:SendBufferBytes=16384");

        // The slow client sends far more than socket buffers hold and never reads.
        var slow = await service.ConnectAsync(receiveBufferBytes: 4096);
        const int slowRecords = 100_000;
        var slowSending = Task.Run(async () =>
        {
            var stream = slow.GetStream();
            var chunk = new StringBuilder();
            try
            {
                for (var i = 0; i < slowRecords; i++)
                {
                    chunk.Append(NdjsonClient.Record($"slow-{i % 16}", i / 16, 0.5f, -0.5f, 0.25f, 1)).Append('\n');
                    if (chunk.Length > 64 * 1024)
                    {
                        await stream.WriteAsync(Encoding.UTF8.GetBytes(chunk.ToString()));
                        chunk.Clear();
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The test closes the slow connection before it has sent everything.
            }
        });

        var maxInUse = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                foreach (var connection in service.Hub.Connections) maxInUse = Math.Max(maxInUse, connection.Credit.InUse);
                await Task.Delay(5);
            }
        });

        // Wait until the slow connection is stuck: its accepted count stops moving.
        var slowConnection = await WaitForAsync(() => service.Hub.Connections.FirstOrDefault(l => l.Accepted > 0));
        long last = -1;
        while (slowConnection.Accepted != last)
        {
            last = slowConnection.Accepted;
            await Task.Delay(300);
        }

        // Others still get every output.
        var fast = await Task.WhenAll(Enumerable.Range(0, 2).Select(async c =>
        {
            using var client = await service.ConnectAsync();
            var records = Enumerable.Range(0, 2000).Select(i => NdjsonClient.Record($"fast-{c}-{i % 10}", i / 10, 1, 0, -1, 0.5f)).ToList();
            return await NdjsonClient.ExchangeAsync(client, records, Timeout);
        }));
        Assert.All(fast, lines => Assert.Equal(2000, lines.Count));

        await sampling.CancelAsync();
        await sampler;
        Assert.False(slowSending.IsCompleted, "the slow client could send everything: its connection was read without bound");
        Assert.True(slowConnection.Accepted < slowRecords, $"accepted {slowConnection.Accepted} of {slowRecords}");
        Assert.InRange(maxInUse, 1, limit);

        // The slow client goes away; the service goes on.
        slow.Dispose();
        await slowSending;
        using var after = await service.ConnectAsync();
        Assert.Single(await NdjsonClient.ExchangeAsync(after, [NdjsonClient.Record("after", 0, 1, 2, 3, 4)], Timeout));
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> probe) where T : class
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value) return value;
            await Task.Delay(20);
        }

        throw new TimeoutException("condition not reached");
    }

    private static void AssertSameOutput(string expected, string actual)
    {
        var e = JsonDocument.Parse(expected).RootElement;
        var a = JsonDocument.Parse(actual).RootElement;
        Assert.Equal(e.GetProperty("key").GetString(), a.GetProperty("key").GetString());
        Assert.Equal(e.GetProperty("seq").GetInt64(), a.GetProperty("seq").GetInt64());
        var ey = e.GetProperty("y").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var ay = a.GetProperty("y").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.Equal(ey.Length, ay.Length);
        for (var i = 0; i < ey.Length; i++)
            Assert.True(Math.Abs(ey[i] - ay[i]) <= 1e-5f + 1e-5f * Math.Abs(ey[i]), $"{expected} vs {actual}");
    }

    private static string KeyOf(string line)
    {
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.GetProperty("key").GetString()!;
    }
}
