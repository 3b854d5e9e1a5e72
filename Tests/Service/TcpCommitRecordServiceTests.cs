using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using LstmStream.Actors.Persistence;
using LstmStream.Tests.Actors.Persistence;
using LstmStream.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LstmStream.Tests.Service;

/// <summary>
/// Commit records on TCP (<c>{"key":K,"committed":S}</c> after each written checkpoint) from the running service: what
/// they name, where they come in the stream, and that nothing is committed while the store cannot be written.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed partial class TcpCommitRecordServiceTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-commits-{Guid.NewGuid():N}");

    public TcpCommitRecordServiceTests(PostgreSqlServer postgres) => _postgres = postgres;

    [Fact]
    public async Task A_checkpoint_sends_each_key_the_connection_fed_its_highest_seq_after_the_outputs_it_covers()
    {
        await using var service = await RunningService.StartAsync($"--LstmStream:Sessions:Store={Path.Combine(_folder, "sessions.db")}",
            "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=01:00:00");
        using var feeder = await service.ConnectAsync();
        using var other = await service.ConnectAsync();
        using var lines = new LineQueue(feeder);
        using var otherLines = new LineQueue(other);
        await SendAsync(feeder, [.. Records("a", 1, 4), .. Records("b", 1, 2), NdjsonClient.Record("no-seq", 0, 0.5f, 0.5f, 0.5f, 0.5f).Replace("\"seq\":0,", "")]);
        await SendAsync(other, Records("c", 1, 1));
        var outputs = await lines.TakeAsync(7);
        Assert.DoesNotContain(outputs, l => l.Contains("committed", StringComparison.Ordinal));
        await otherLines.TakeAsync(1);

        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        (await http.PostAsync("admin/checkpoint", null)).EnsureSuccessStatusCode();

        var commits = await lines.TakeAsync(2);
        Assert.Equal(["{\"key\":\"a\",\"committed\":4}", "{\"key\":\"b\",\"committed\":2}"], commits.Order(StringComparer.Ordinal));
        Assert.Equal(["{\"key\":\"c\",\"committed\":1}"], await otherLines.TakeAsync(1));

        // Only what was fed since: one key, its new highest seq.
        await SendAsync(feeder, Records("b", 3, 5));
        await lines.TakeAsync(3);
        (await http.PostAsync("admin/checkpoint", null)).EnsureSuccessStatusCode();
        Assert.Equal(["{\"key\":\"b\",\"committed\":5}"], await lines.TakeAsync(1));
    }

    [Fact]
    public async Task When_a_node_that_stepped_records_delivered_here_leaves_before_storing_them_the_connections_are_closed_before_anything_is_committed()
    {
        await using var service = await RunningService.StartAsync($"--LstmStream:Sessions:Store={Path.Combine(_folder, "sessions.db")}",
            "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=01:00:00");
        using var client = await service.ConnectAsync();
        using var reader = new StreamReader(client.GetStream(), Encoding.UTF8, leaveOpen: true);
        await SendAsync(client, Records("a", 1, 2));
        Assert.Equal(2, (await NdjsonClient.ReadLinesAsync(reader, 2, Timeout)).Count);

        // As in cluster mode: outputs stepped on another node (stamped with its round 0) were delivered here, and that node
        // is removed from the cluster before it wrote its round 1.
        var rounds = service.App.Services.GetRequiredService<CheckpointRounds>();
        var owner = new OwnerActorRef(new Akka.Actor.Address("akka.tcp", "lstmstream", "127.0.0.1", 4054), 1);
        rounds.RoutedDelivered(owner, 0);
        var gone = rounds.OwnerGoneAsync(owner.Path.Address);

        // The service closes the connection (the client resends what is not committed); nothing was committed on it.
        var received = "";
        using var deadline = new CancellationTokenSource(Timeout);
        try
        {
            received = await reader.ReadToEndAsync(deadline.Token);
        }
        catch (IOException)
        {
            // Reset by the service: closed as well.
        }

        Assert.DoesNotContain("committed", received, StringComparison.Ordinal);
        client.Close();
        Assert.Equal(1, await gone.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Without_a_store_no_commit_records_are_sent()
    {
        await using var service = await RunningService.StartAsync();
        using var client = await service.ConnectAsync();
        var answers = await NdjsonClient.ExchangeAsync(client, Records("a", 1, 5), Timeout);

        Assert.Equal(5, answers.Count);
        Assert.All(answers, l => Assert.Contains("\"y\":", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task While_PostgreSQL_is_stopped_nothing_is_committed_and_once_it_is_back_the_records_fed_meanwhile_are()
    {
        await using var service = await RunningService.StartAsync($"--LstmStream:Sessions:Store={await _postgres.CreateDatabaseAsync()}",
            "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=00:00:00.2", "--LstmStream:Sessions:Checkpoint:MaxRetryDelay=00:00:01");
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        using var client = await service.ConnectAsync();
        using var lines = new LineQueue(client);
        await SendAsync(client, Records("a", 1, 3));
        await lines.TakeAsync(3);
        await lines.WaitForCommitsAsync(new() { ["a"] = 3 });

        await _postgres.StopAsync();
        try
        {
            var failures = await FailuresAsync(http);
            await SendAsync(client, [.. Records("a", 4, 6), .. Records("b", 1, 2)]);
            var outputs = await lines.TakeAsync(5);
            Assert.All(outputs, l => Assert.Contains("\"y\":", l, StringComparison.Ordinal));
            // Checkpoints run and fail meanwhile (every 1 s at most): none of them may commit anything.
            var deadline = DateTime.UtcNow + Timeout;
            while (await FailuresAsync(http) < failures + 3)
            {
                Assert.True(DateTime.UtcNow < deadline, "no failed checkpoints counted while PostgreSQL is stopped");
                await Task.Delay(100);
            }

            Assert.Equal([], lines.TakeAvailable());
        }
        finally
        {
            await _postgres.StartAsync();
        }

        await lines.WaitForCommitsAsync(new() { ["a"] = 6, ["b"] = 2 });
    }

    private static async Task<long> FailuresAsync(HttpClient http)
    {
        var match = FailuresMetric().Match(await http.GetStringAsync("metrics"));
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"(?m)^lstmstream_sessions_checkpoint_failures_total(?:\{[^}]*\})? (\d+)")]
    private static partial Regex FailuresMetric();

    private static List<string> Records(string key, int from, int to) =>
        Enumerable.Range(from, to - from + 1).Select(seq => NdjsonClient.Record(key, seq, 0.1f * seq, -0.2f, 0.3f, MathF.Sin(seq))).ToList();

    private static async Task SendAsync(TcpClient client, IEnumerable<string> records) =>
        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(string.Concat(records.Select(r => r + "\n"))));

    /// <summary>Every line the service sends on a connection, read in the background as it comes.</summary>
    private sealed class LineQueue : IDisposable
    {
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
        private readonly StreamReader _reader;
        private readonly Task _reading;

        public LineQueue(TcpClient client)
        {
            _reader = new StreamReader(client.GetStream(), Encoding.UTF8, leaveOpen: true);
            _reading = Task.Run(async () =>
            {
                try
                {
                    while (await _reader.ReadLineAsync() is { } line) await _lines.Writer.WriteAsync(line);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                }
                finally
                {
                    _lines.Writer.TryComplete();
                }
            });
        }

        public async Task<List<string>> TakeAsync(int count)
        {
            using var timeout = new CancellationTokenSource(Timeout);
            var taken = new List<string>();
            while (taken.Count < count) taken.Add(await _lines.Reader.ReadAsync(timeout.Token));
            foreach (var line in taken) JsonDocument.Parse(line).Dispose();
            return taken;
        }

        /// <summary>Takes commit records (and only those) until each key's latest names its expected seq; none may name more.</summary>
        public async Task WaitForCommitsAsync(Dictionary<string, long> expected)
        {
            var latest = new Dictionary<string, long>();
            while (expected.Any(e => !latest.TryGetValue(e.Key, out var seq) || seq != e.Value))
            {
                var line = (await TakeAsync(1))[0];
                using var record = JsonDocument.Parse(line);
                Assert.True(record.RootElement.TryGetProperty("committed", out var committed), $"not a commit record: {line}");
                var key = record.RootElement.GetProperty("key").GetString()!;
                Assert.True(expected.TryGetValue(key, out var most) && committed.GetInt64() <= most, $"commits more than was fed: {line}");
                latest[key] = committed.GetInt64();
            }
        }

        public List<string> TakeAvailable()
        {
            var taken = new List<string>();
            while (_lines.Reader.TryRead(out var line)) taken.Add(line);
            return taken;
        }

        public void Dispose()
        {
            _reader.Dispose();
            _ = _reading;
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
