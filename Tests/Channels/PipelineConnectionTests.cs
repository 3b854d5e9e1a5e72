using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Channels;

/// <summary>A connection on its own: an inbox that keeps what is submitted, a channel output that keeps what comes back.</summary>
public sealed class PipelineConnectionTests : IDisposable
{
    private const int Id = 7;
    private const int Width = 2;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, string? Channel)> _measurements = new();
    private readonly List<StepBatch> _inbox = [];
    private readonly List<PipelineConnection> _closed = [];
    private readonly ListLogger _logger = new();
    private readonly RecordingOutput _output = new();
    private readonly PipelineConnection _connection;

    public PipelineConnectionTests()
    {
        var meters = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => _measurements.Enqueue((i.Name, v, Channel(tags))));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => _measurements.Enqueue((i.Name, v, Channel(tags))));
        _listener.Start();
        _connection = new PipelineConnection(Id, _output, "tcp", maxInFlight: 4, Width,
            (batch, _) =>
            {
                _inbox.Add(batch);
                return ValueTask.CompletedTask;
            },
            _closed.Add, new ChannelMetrics(meters), _logger);
    }

    [Fact]
    public async Task Submitted_rows_carry_the_connection_in_their_tags_hold_credit_and_are_counted_for_the_channel()
    {
        await _connection.SubmitAsync(Batch("a", "b"), CancellationToken.None);

        var submitted = Assert.Single(_inbox);
        Assert.All(submitted.Tags[..2], tag => Assert.Equal(Id, (int)(tag >>> 32)));
        Assert.NotEqual(submitted.Tags[0], submitted.Tags[1]);
        Assert.Equal(2, _connection.Credit.InUse);
        Assert.Equal(2, _connection.Accepted);
        Assert.Contains(("lstmstream.records.received", 2.0, "tcp"), _measurements);
        submitted.Release();
    }

    [Fact]
    public async Task Each_output_goes_to_the_channel_with_its_latency_and_the_input_completes_once_all_are_delivered()
    {
        await _connection.SubmitAsync(Batch("a", "b"), CancellationToken.None);
        var submitted = _inbox[0];
        var completed = _connection.CompleteInputAsync();

        _connection.Deliver(submitted, 0, Stopwatch.GetTimestamp());
        Assert.False(completed.IsCompleted);
        _connection.Deliver(submitted, 1, Stopwatch.GetTimestamp());

        await completed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["a", "b"], _output.Keys);
        Assert.Equal(2, _measurements.Count(m => m.Instrument == "lstmstream.record.latency" && m.Channel == "tcp"));
        submitted.Release();
    }

    [Fact]
    public void A_rejected_record_is_logged_counted_and_handed_to_the_channel_holding_one_unit_of_credit()
    {
        var error = new RecordError(3, "k", "x", "expected 2 numbers, got 1");

        _connection.Reject(error);

        Assert.Equal([error], _output.Errors);
        Assert.Equal(1, _connection.Credit.InUse);
        Assert.Contains(("lstmstream.records.rejected", 1.0, "tcp"), _measurements);
        Assert.Contains(_logger.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("test-channel: rejected record: line 3, key 'k', field 'x'", StringComparison.Ordinal));
        _connection.Release(1);
        Assert.Equal(0, _connection.Credit.InUse);
    }

    [Fact]
    public void A_flood_of_rejected_records_writes_a_bounded_escaped_log_and_counts_every_one()
    {
        var time = new FakeTimeProvider();
        var logger = new ListLogger();
        var connection = new PipelineConnection(Id + 1, _output, "tcp", maxInFlight: 4, Width, (_, _) => ValueTask.CompletedTask, _ => { },
            new ChannelMetrics(_services.GetRequiredService<IMeterFactory>()), logger, time);

        for (var i = 1; i <= 1000; i++)
        {
            connection.Reject(new RecordError(i, "evil\r\u001b[2J", "x", "expected 2 numbers, got 1"));
            connection.Release(1);
        }

        Assert.Equal(1000, connection.Rejected);
        Assert.Equal(1000, _measurements.Count(m => m.Instrument == "lstmstream.records.rejected"));
        Assert.Equal(LogBudget.DefaultLinesPerInterval, logger.Lines.Count);
        Assert.All(logger.Lines, l => Assert.Contains("key 'evil\\x0d\\x1b[2J'", l.Message, StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Lines, l => l.Message.Contains('\r') || l.Message.Contains('\u001b'));

        time.Advance(LogBudget.DefaultInterval);
        connection.Reject(new RecordError(1001, "k", "x", "expected 2 numbers, got 1"));
        Assert.Contains($"({1000 - LogBudget.DefaultLinesPerInterval} rejected records before it were not logged, at most 10 lines a minute)", logger.Lines[^1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_of_the_wrong_width_are_refused_and_nothing_is_taken()
    {
        var wide = StepBatch.Rent(1, Width + 1);
        wide.Add("a", 0, StepFlags.None, 0);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _connection.SubmitAsync(wide, CancellationToken.None).AsTask());

        Assert.Contains("input size is 2", error.Message, StringComparison.Ordinal);
        Assert.Empty(_inbox);
        Assert.Equal(0, _connection.Credit.InUse);
    }

    [Fact]
    public void Closing_tells_the_outbox_to_forget_the_connection()
    {
        _connection.Close();

        Assert.Equal([_connection], _closed);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }

    private static StepBatch Batch(params string[] keys)
    {
        var batch = StepBatch.Rent(keys.Length, Width);
        foreach (var key in keys) batch.Row(batch.Add(key, 0, StepFlags.None, 0)).Fill(1f);
        return batch;
    }

    private static string? Channel(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
            if (tag.Key == "channel") return tag.Value as string;
        return null;
    }

    private sealed class RecordingOutput : IChannelOutput
    {
        public List<string> Keys { get; } = [];
        public List<RecordError> Errors { get; } = [];
        public string Name => "test-channel";
        public void OnOutput(StepBatch batch, int row) => Keys.Add(batch.Keys[row]);
        public void OnError(RecordError error) => Errors.Add(error);
    }
}
