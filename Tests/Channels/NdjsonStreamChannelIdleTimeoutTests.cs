using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Channels;

/// <summary>
/// <see cref="NdjsonStreamChannel.IdleTimeout"/> on a fake clock: a peer that sends nothing while nothing of it is pending
/// is closed with one error record; records in flight and recent outputs hold the timeout off.
/// </summary>
public sealed class NdjsonStreamChannelIdleTimeoutTests : IDisposable
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();
    private readonly Pipe _input = new();
    private readonly Pipe _output = new();
    private readonly TaskCompletionSource<StepBatch> _submitted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NdjsonStreamChannel _channel;
    private readonly PipelineConnection _connection;

    public NdjsonStreamChannelIdleTimeoutTests() : this(readsHonourCancellation: false)
    {
    }

    private NdjsonStreamChannelIdleTimeoutTests(bool readsHonourCancellation)
    {
        _channel = new NdjsonStreamChannel("idle-test", _input.Reader.AsStream(), _output.Writer.AsStream(), new ListLogger())
        {
            IdleTimeout = IdleTimeout,
            Time = _time,
            ReadsHonourCancellation = readsHonourCancellation,
        };
        _connection = new PipelineConnection(1, _channel, "tcp", maxInFlight: 8, inputSize: 2,
            (batch, _) =>
            {
                _submitted.TrySetResult(batch);
                return ValueTask.CompletedTask;
            },
            _ => { }, new ChannelMetrics(_services.GetRequiredService<IMeterFactory>()), new ListLogger());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_peer_that_sends_nothing_with_nothing_pending_gets_one_error_record_when_the_timeout_is_up(bool readsHonourCancellation)
    {
        // A read that honours its token (a socket's) is cancelled; one that does not (stdin's) is abandoned.
        using var test = new NdjsonStreamChannelIdleTimeoutTests(readsHonourCancellation);
        await test.PeerThatSendsNothingGetsOneErrorRecordAsync();
    }

    private async Task PeerThatSendsNothingGetsOneErrorRecordAsync()
    {
        var run = _channel.RunAsync(_connection, CancellationToken.None, CancellationToken.None);

        _time.Advance(IdleTimeout - TimeSpan.FromSeconds(1));
        Assert.False(_channel.IdledOut);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(_channel.IdledOut);
        await run.WaitAsync(Wait);

        var error = JsonDocument.Parse(Assert.Single(await OutputLinesAsync())).RootElement;
        Assert.Equal("nothing received for 300 s and nothing pending: the connection is closed (idle timeout)", error.GetProperty("error").GetString());
        Assert.Equal("connection", error.GetProperty("field").GetString());
        Assert.Equal(1, error.GetProperty("line").GetInt64());
        Assert.Equal(0, _connection.Credit.InUse);
    }

    [Fact]
    public async Task A_record_in_flight_holds_the_timeout_off_and_it_counts_again_from_the_last_output_written()
    {
        var run = _channel.RunAsync(_connection, CancellationToken.None, CancellationToken.None);
        await _input.Writer.WriteAsync(Encoding.UTF8.GetBytes("{\"key\":\"k\",\"x\":[1,2]}\n"));
        var batch = await _submitted.Task.WaitAsync(Wait);
        Assert.Equal(1, _connection.Credit.InUse);

        _time.Advance(IdleTimeout * 2); // the output is still pending: not idle
        Assert.False(_channel.IdledOut);

        _connection.Deliver(batch, 0, Stopwatch.GetTimestamp());
        _connection.EndOfBatch(); // as the outbox does after a routed batch's last row: the write loop wakes
        await WaitUntilAsync(() => _connection.Credit.InUse == 0); // written, its credit given back
        _time.Advance(IdleTimeout - TimeSpan.FromSeconds(1));
        Assert.False(_channel.IdledOut);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(_channel.IdledOut);
        await run.WaitAsync(Wait);
        batch.Release();

        var lines = await OutputLinesAsync();
        Assert.Equal(2, lines.Count);
        Assert.Equal("k", JsonDocument.Parse(lines[0]).RootElement.GetProperty("key").GetString());
        var error = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal("connection", error.GetProperty("field").GetString());
        Assert.Equal(2, error.GetProperty("line").GetInt64());
    }

    [Fact]
    public async Task Without_an_idle_timeout_the_channel_reads_until_its_input_ends()
    {
        var channel = new NdjsonStreamChannel("no-idle", _input.Reader.AsStream(), _output.Writer.AsStream(), new ListLogger()) { Time = _time };
        var connection = new PipelineConnection(2, channel, "tcp", maxInFlight: 8, inputSize: 2, (_, _) => ValueTask.CompletedTask, _ => { },
            new ChannelMetrics(_services.GetRequiredService<IMeterFactory>()), new ListLogger());
        var run = channel.RunAsync(connection, CancellationToken.None, CancellationToken.None);

        _time.Advance(TimeSpan.FromDays(1));
        Assert.False(channel.IdledOut);
        await _input.Writer.CompleteAsync();
        await run.WaitAsync(Wait);

        Assert.Empty(await OutputLinesAsync());
    }

    private async Task<List<string>> OutputLinesAsync()
    {
        await _output.Writer.CompleteAsync();
        using var reader = new StreamReader(_output.Reader.AsStream());
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line) lines.Add(line);
        return lines;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(Wait);
        while (!condition()) await Task.Delay(5, deadline.Token);
    }

    public void Dispose() => _services.Dispose();
}
