using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmStream.Tests.Channels;

/// <summary>The NDJSON channel's write loop, fed the way the outbox feeds it: rows of a batch, then the batch's end.</summary>
public sealed class NdjsonStreamChannelTests : IDisposable
{
    private const int Width = 2;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly List<StepBatch> _inbox = [];

    public void Dispose()
    {
        foreach (var b in _inbox) b.Release();
        _services.Dispose();
    }

    [Fact]
    public async Task The_outputs_of_one_routed_batch_leave_in_one_write()
    {
        var input = new HeldInput();
        var output = new RecordingOutput();
        var channel = new NdjsonStreamChannel("test", input, output, new ListLogger());
        var connection = new PipelineConnection(1, channel, "tcp", maxInFlight: 8, Width,
            (batch, _) =>
            {
                _inbox.Add(batch);
                return ValueTask.CompletedTask;
            },
            _ => { }, new ChannelMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), new ListLogger());
        var running = channel.RunAsync(connection, CancellationToken.None, CancellationToken.None);

        await connection.SubmitAsync(Batch("a", "b", "c"), CancellationToken.None);
        await connection.SubmitAsync(Batch("d", "e"), CancellationToken.None);
        RouteAll(connection, _inbox[0]);
        Assert.Equal(["a", "b", "c"], Keys(await output.NextWriteAsync()));
        RouteAll(connection, _inbox[1]);
        Assert.Equal(["d", "e"], Keys(await output.NextWriteAsync()));

        input.End();
        await running.WaitAsync(Timeout);
        Assert.Equal(0, connection.Credit.InUse);
        Assert.Empty(output.Writes);
    }

    /// <summary>What the outbox does with one batch: every row to its connection, then the batch's end.</summary>
    private static void RouteAll(PipelineConnection connection, StepBatch batch)
    {
        for (var r = 0; r < batch.Count; r++) connection.Deliver(batch, r, Stopwatch.GetTimestamp());
        connection.EndOfBatch();
    }

    private static string[] Keys(string written) =>
        written.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("key").GetString()!)
            .ToArray();

    private static StepBatch Batch(params string[] keys)
    {
        var batch = StepBatch.Rent(keys.Length, Width);
        foreach (var key in keys) batch.Add(key, 0, StepFlags.HasSeq, 0);
        return batch;
    }

    /// <summary>An input that has nothing to read until <see cref="End"/>.</summary>
    private sealed class HeldInput : Records.ReadOnlyTestStream
    {
        private readonly TaskCompletionSource<int> _end = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void End() => _end.TrySetResult(0);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(_end.Task.WaitAsync(cancellationToken));

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Keeps every write as one string.</summary>
    private sealed class RecordingOutput : WriteOnlyTestStream
    {
        public BlockingCollection<string> Writes { get; } = [];

        public async Task<string> NextWriteAsync() =>
            await Task.Run(() => Writes.TryTake(out var w, Timeout) ? w : throw new TimeoutException("no write"));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Add(Encoding.UTF8.GetString(buffer.Span));
            return ValueTask.CompletedTask;
        }

        public override void Write(byte[] buffer, int offset, int count) => Writes.Add(Encoding.UTF8.GetString(buffer, offset, count));
    }
}
