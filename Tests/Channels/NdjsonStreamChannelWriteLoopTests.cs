using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Text;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LstmStream.Tests.Channels;

/// <summary>
/// The write loop of <see cref="NdjsonStreamChannel"/> when the outbox wakes it: an idle loop writes on the outbox's
/// thread before the wake-up returns (no hop through the thread pool); a write the stream cannot take at once does not
/// hold that thread; the abort ends the loop.
/// </summary>
public sealed class NdjsonStreamChannelWriteLoopTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Pipe _input = new();
    private readonly TaskCompletionSource<StepBatch> _submitted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task An_idle_write_loop_writes_a_batchs_outputs_on_the_thread_that_delivered_them_before_the_wake_up_returns()
    {
        var output = new ThreadRecordingStream();
        var (channel, connection) = Open(output);
        var run = channel.RunAsync(connection, CancellationToken.None, CancellationToken.None);
        var batch = await SubmitTwoRecordsAsync();

        var thread = Environment.CurrentManagedThreadId;
        connection.Deliver(batch, 0, Stopwatch.GetTimestamp());
        connection.Deliver(batch, 1, Stopwatch.GetTimestamp());
        connection.EndOfBatch();

        Assert.Equal([thread], output.WritingThreads); // one write, made here
        Assert.Equal(2, output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(0, connection.Credit.InUse); // and the credit is back
        batch.Release();
        await _input.Writer.CompleteAsync();
        await run.WaitAsync(Wait);
    }

    [Fact]
    public async Task A_write_the_stream_cannot_take_at_once_does_not_hold_the_delivering_thread()
    {
        var output = new ThreadRecordingStream { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var (channel, connection) = Open(output);
        var run = channel.RunAsync(connection, CancellationToken.None, CancellationToken.None);
        var batch = await SubmitTwoRecordsAsync();

        connection.Deliver(batch, 0, Stopwatch.GetTimestamp());
        connection.EndOfBatch(); // returns although the write waits for the gate
        connection.Deliver(batch, 1, Stopwatch.GetTimestamp());
        connection.EndOfBatch();
        Assert.Equal(2, connection.Credit.InUse);

        output.Gate.SetResult();
        await _input.Writer.CompleteAsync();
        await run.WaitAsync(Wait);
        Assert.Equal(2, output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(0, connection.Credit.InUse);
        batch.Release();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_abort_ends_a_write_that_waits_and_the_outputs_not_written_are_counted_in_the_log(bool readsHonourCancellation)
    {
        var output = new ThreadRecordingStream { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var log = new ListLogger();
        var (channel, connection) = Open(output, log, readsHonourCancellation);
        using var abort = new CancellationTokenSource();
        var run = channel.RunAsync(connection, abort.Token, abort.Token);
        var batch = await SubmitTwoRecordsAsync();
        connection.Deliver(batch, 0, Stopwatch.GetTimestamp());
        connection.EndOfBatch(); // this write waits for a gate that never opens
        connection.Deliver(batch, 1, Stopwatch.GetTimestamp());
        connection.EndOfBatch(); // and this output waits for the loop

        await abort.CancelAsync();
        await run.WaitAsync(Wait);

        Assert.Contains(log.Lines, l => l.Message == "write-loop: shutdown deadline passed, 1 outputs not written");
        batch.Release();
    }

    private (NdjsonStreamChannel, PipelineConnection) Open(Stream output, ListLogger? log = null, bool readsHonourCancellation = false)
    {
        var channel = new NdjsonStreamChannel("write-loop", _input.Reader.AsStream(), output, log ?? new ListLogger())
        {
            ReadsHonourCancellation = readsHonourCancellation,
        };
        var connection = new PipelineConnection(1, channel, "tcp", maxInFlight: 8, inputSize: 2,
            (batch, _) =>
            {
                _submitted.TrySetResult(batch);
                return ValueTask.CompletedTask;
            },
            _ => { }, new ChannelMetrics(_services.GetRequiredService<IMeterFactory>()), new ListLogger());
        return (channel, connection);
    }

    private async Task<StepBatch> SubmitTwoRecordsAsync()
    {
        await _input.Writer.WriteAsync(Encoding.UTF8.GetBytes("{\"key\":\"a\",\"x\":[1,2]}\n{\"key\":\"b\",\"x\":[3,4]}\n"));
        var batch = await _submitted.Task.WaitAsync(Wait);
        Assert.Equal(2, batch.Count);
        return batch;
    }

    public void Dispose() => _services.Dispose();

    /// <summary>An output stream that keeps what was written and on which threads; with a gate, writes complete once it opens.</summary>
    private sealed class ThreadRecordingStream : WriteOnlyTestStream
    {
        private readonly MemoryStream _written = new();

        public TaskCompletionSource? Gate { get; init; }
        public List<int> WritingThreads { get; } = [];

        public string Text
        {
            get
            {
                lock (_written) return Encoding.UTF8.GetString(_written.ToArray());
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (_written)
            {
                WritingThreads.Add(Environment.CurrentManagedThreadId);
                _written.Write(buffer.Span);
            }

            if (Gate is not null) await Gate.Task.WaitAsync(cancellationToken);
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
