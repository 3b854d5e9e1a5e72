using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Service;

/// <summary>
/// Durable sessions with a replaying TCP client, end to end with real processes: <c>lstmstream simulate --connect
/// --resend</c> feeds <c>lstmstream serve</c>, which is killed (kill -9) or stopped (SIGTERM) mid-stream and started again
/// on the same store (SQLite, and a private PostgreSQL server); the client reconnects and resends what was not committed.
/// Every key's final state and every output must be bitwise those of an uninterrupted run.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed partial class TcpReplayProcessTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private const int Keys = 12;
    private const int PerKey = 300;
    private const int Count = Keys * PerKey;

    private static readonly SemaphoreSlim ReferenceGate = new(1, 1);
    private static Run? _reference;

    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-replay-{Guid.NewGuid():N}");

    public TcpReplayProcessTests(PostgreSqlServer postgres)
    {
        _postgres = postgres;
        Directory.CreateDirectory(_folder);
    }

    [Fact]
    public Task Serve_killed_mid_stream_on_SQLite_loses_no_record_and_applies_none_twice() =>
        KilledMidStreamAsync(Path.Combine(_folder, "sessions.db"));

    [Fact]
    public async Task Serve_killed_mid_stream_on_PostgreSQL_loses_no_record_and_applies_none_twice() =>
        await KilledMidStreamAsync(await _postgres.CreateDatabaseAsync());

    [Fact]
    public async Task Serve_stopped_with_SIGTERM_under_load_resumes_every_key_where_it_stopped_without_duplicate_outputs()
    {
        var reference = await ReferenceAsync();
        var (tcp, http) = (RunningService.FreePort(), RunningService.FreePort());
        var settings = StoreSettings(Path.Combine(_folder, "sessions.db"));
        var output = Path.Combine(_folder, "answers.ndjson");
        Run run;
        using (var first = await TcpServeProcess.StartAsync(tcp, http, settings))
        {
            var client = RunClientAsync(tcp, output);
            await WaitForAnswersAsync(output, Count / 3, client);
            Assert.Equal(0, await first.TerminateAsync());
            Assert.Contains("commit records sent before closing", first.Log, StringComparison.Ordinal);
            using var second = await TcpServeProcess.StartAsync(tcp, http, settings);
            run = await FinishAsync(client, output, second);
            Assert.Equal(0, await second.TerminateAsync());
        }

        Assert.True(run.Reconnects >= 1, run.ClientLog);
        // The stop's checkpoint committed everything the first process answered: nothing is answered twice.
        Assert.Equal(Count, run.Answers.Count);
        Assert.DoesNotContain(run.Answers, a => a.Y is null);
        Assert.Equal(Count, run.Answers.Select(a => (a.Key, a.Seq)).Distinct().Count());
        AssertSameAsReference(reference, run);
    }

    /// <summary>Kills serve twice (a quarter and half of the answers in), each time starting it again on the same store.</summary>
    private async Task KilledMidStreamAsync(string store)
    {
        var reference = await ReferenceAsync();
        var (tcp, http) = (RunningService.FreePort(), RunningService.FreePort());
        var settings = StoreSettings(store);
        var output = Path.Combine(_folder, "answers.ndjson");
        Run run;
        var service = await TcpServeProcess.StartAsync(tcp, http, settings);
        try
        {
            // Slow enough (24 s of records) that the catch-up after the first restart cannot send the last record before the
            // second kill, however long a restart takes on a loaded machine: each kill cuts a running stream.
            var client = RunClientAsync(tcp, output, rate: 150);
            var answered = 0;
            foreach (var part in new[] { 4, 2 })
            {
                // Each process answers some records before its kill (the previous one may have answered past this part).
                await WaitForAnswersAsync(output, Math.Max(Count / part, answered + Count / 10), client);
                await service.KillAsync();
                answered = CountLines(output);
                service.Dispose();
                service = await TcpServeProcess.StartAsync(tcp, http, settings);
            }

            run = await FinishAsync(client, output, service);
            Assert.Equal(0, await service.TerminateAsync());
        }
        finally
        {
            service.Dispose();
        }

        Assert.True(run.Reconnects >= 2, run.ClientLog);
        // Outputs are at least once: every record is answered, a replayed one with the same y or a duplicate record.
        Assert.Equal(Count, run.Answers.Select(a => (a.Key, a.Seq)).Distinct().Count());
        AssertSameAsReference(reference, run);
    }

    /// <summary>Every y equals the uninterrupted run's, bit for bit (shortest round-trip text), and so does every key's final state.</summary>
    private static void AssertSameAsReference(Run reference, Run run)
    {
        var expected = reference.Answers.ToDictionary(a => (a.Key, a.Seq), a => a.Y);
        foreach (var answer in run.Answers)
        {
            if (answer.Y is not null) Assert.Equal(expected[(answer.Key, answer.Seq)], answer.Y);
        }

        Assert.Equal(reference.States.Count, run.States.Count);
        foreach (var (key, state) in reference.States) Assert.Equal(state, run.States[key]);
    }

    /// <summary>The uninterrupted run, once for the class: the same client against one service that is never stopped.</summary>
    private async Task<Run> ReferenceAsync()
    {
        await ReferenceGate.WaitAsync();
        try
        {
            if (_reference is not null) return _reference;
            var folder = Path.Combine(_folder, "reference");
            Directory.CreateDirectory(folder);
            var tcp = RunningService.FreePort();
            using var service = await TcpServeProcess.StartAsync(tcp, RunningService.FreePort(), StoreSettings(Path.Combine(folder, "sessions.db")));
            var output = Path.Combine(folder, "answers.ndjson");
            var run = await FinishAsync(RunClientAsync(tcp, output), output, service);
            Assert.Equal(0, await service.TerminateAsync());
            Assert.Equal(0, run.Reconnects);
            Assert.Equal(Count, run.Answers.Count);
            Assert.DoesNotContain(run.Answers, a => a.Y is null);
            return _reference = run;
        }
        finally
        {
            ReferenceGate.Release();
        }
    }

    /// <remarks>
    /// Batches as they come: a rate-paced client's batches depend on timing, and on the managed backend (<see cref="TcpServeProcess"/>)
    /// a row's result does not depend on the batch it is stepped in, so two runs compare bit for bit.
    /// </remarks>
    private static string[] StoreSettings(string store) =>
    [
        $"--LstmStream:Sessions:Store={store}", "--LstmStream:Sessions:Buckets=8", "--LstmStream:Sessions:Checkpoint:Interval=00:00:00.2",
        "--LstmStream:Shutdown:Deadline=00:00:30",
    ];

    /// <summary>
    /// The replaying client: every record keeps its seq (from 1), sent at a steady <paramref name="rate"/> (records per second
    /// since its start: after a reconnect it catches up at once) so the stream is still running at the stop.
    /// </summary>
    private static Task<(int Exit, string Stdout, string Stderr)> RunClientAsync(int port, string output, int rate = 1200) =>
        LstmStreamProcess.RunAsync("", null, "simulate", "--connect", $"127.0.0.1:{port}", "--resend", "--keys", Keys.ToString(CultureInfo.InvariantCulture),
            "--count", Count.ToString(CultureInfo.InvariantCulture), "--rate", rate.ToString(CultureInfo.InvariantCulture), "--first-seq", "1",
            "--retry-for", "90", "--output", output);

    /// <summary>Waits until the client has written <paramref name="lines"/> answers (fails if it ends first).</summary>
    private static async Task WaitForAnswersAsync(string output, int lines, Task<(int Exit, string Stdout, string Stderr)> client)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (CountLines(output) < lines)
        {
            if (client.IsCompleted) Assert.Fail($"the client ended before {lines} answers: {(await client).Stderr}");
            Assert.True(DateTime.UtcNow < deadline, $"fewer than {lines} answers after 90 s");
            await Task.Delay(20);
        }
    }

    private static int CountLines(string path)
    {
        if (!File.Exists(path)) return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var count = 0;
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0) count += buffer.AsSpan(0, read).Count((byte)'\n');
        return count;
    }

    /// <summary>Waits for the client to end, then reads its answers and every key's state from <paramref name="service"/>.</summary>
    private static async Task<Run> FinishAsync(Task<(int Exit, string Stdout, string Stderr)> client, string output, TcpServeProcess service)
    {
        var (exit, _, log) = await client;
        Assert.True(exit == 0, $"simulate exited with {exit}: {log}\nservice log:\n{service.Log}");
        var answers = new List<Answer>();
        foreach (var line in await File.ReadAllLinesAsync(output))
        {
            using var record = JsonDocument.Parse(line);
            var root = record.RootElement;
            answers.Add(new Answer(root.GetProperty("key").GetString()!, root.GetProperty("seq").GetInt64(),
                root.TryGetProperty("y", out var y) ? y.GetRawText() : null));
            if (answers[^1].Y is null) Assert.True(root.GetProperty("duplicate").GetBoolean(), line);
        }

        var states = new Dictionary<string, string>();
        for (var k = 0; k < Keys; k++)
        {
            var key = $"sensor-{k}";
            using var document = JsonDocument.Parse(await service.Http.GetStringAsync($"admin/keys/{key}"));
            var root = document.RootElement;
            states[key] = $"lastSeq {root.GetProperty("lastSeq").GetInt64()} model {root.GetProperty("modelIdentity").GetString()} " +
                          $"c {root.GetProperty("c").GetRawText()} h {root.GetProperty("h").GetRawText()}";
        }

        var reconnects = ReconnectsText().Match(log);
        Assert.True(reconnects.Success, log);
        return new Run(answers, states, int.Parse(reconnects.Groups[1].Value, CultureInfo.InvariantCulture), log);
    }

    [GeneratedRegex(@"resent after (\d+) reconnect")]
    private static partial Regex ReconnectsText();

    private sealed record Answer(string Key, long Seq, string? Y);

    private sealed record Run(List<Answer> Answers, Dictionary<string, string> States, int Reconnects, string ClientLog);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A killed process's file may linger a moment; the temp folder is cleaned by the system.
        }
    }
}
