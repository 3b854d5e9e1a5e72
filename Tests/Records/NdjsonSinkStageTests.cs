using System.Buffers;
using System.Text;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

using LstmStream.Tests.Support;

namespace LstmStream.Tests.Records;

public sealed class NdjsonSinkStageTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    // Generous expectation timeouts: the tests share a small, busy machine.
    public NdjsonSinkStageTests() : base("akka.test.single-expect-default = 20s") => _materializer = Sys.Materializer();

    /// <summary>A batch of <paramref name="rows"/> rows of width 3, keys and values derived from <paramref name="first"/>.</summary>
    private static StepBatch Batch(int first, int rows)
    {
        var batch = StepBatch.Rent(rows, 3);
        for (var r = 0; r < rows; r++)
        {
            int n = first + r;
            batch.Add(n % 5 == 0 ? $"k \"{n}\"" : $"k{n}", n, n % 2 == 0 ? StepFlags.HasSeq : StepFlags.None, n);
            var y = batch.Row(r);
            y[0] = n / 7f;
            y[1] = -n * 1e-7f;
            y[2] = n % 3 == 0 ? float.NaN : n * 1e9f;
        }

        return batch;
    }

    /// <summary>What <see cref="NdjsonOutputFormatter"/> writes for the same batches.</summary>
    private static string Expected(IEnumerable<(int First, int Rows)> batches)
    {
        var text = new ArrayBufferWriter<byte>();
        foreach (var (first, rows) in batches)
        {
            var batch = Batch(first, rows);
            NdjsonOutputFormatter.WriteBatch(batch, text);
            batch.Release();
        }

        return Encoding.UTF8.GetString(text.WrittenSpan);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Writes_every_batch_as_formatted_lines_one_write_each_and_counts_the_records(bool flushEachBatch)
    {
        (int First, int Rows)[] shape = [(0, 1), (1, 300), (301, 5), (306, 2000), (2306, 17)];
        var output = new RecordingStream();

        var written = await Source.From(shape).Select(s => Batch(s.First, s.Rows))
            .RunWith(Sink.FromGraph(new NdjsonSinkStage(output, flushEachBatch)), _materializer);

        Assert.Equal(2323, written);
        Assert.Equal(Expected(shape), Encoding.UTF8.GetString(output.Data.ToArray()));
        Assert.Equal(shape.Length, output.Writes);
        // One flush per batch when asked, and one at the end either way.
        Assert.Equal(flushEachBatch ? shape.Length + 1 : 1, output.Flushes);
        Assert.True(output.CanWrite, "the output stream stays open");
    }

    [Fact]
    public async Task A_blocked_write_stops_demand_until_it_returns()
    {
        var output = new RecordingStream { Gate = new SemaphoreSlim(0) };
        var (publisher, written) = this.SourceProbe<StepBatch>()
            .ToMaterialized(Sink.FromGraph(new NdjsonSinkStage(output, flushEachBatch: true)).Async(), Keep.Both)
            .Run(_materializer);

        publisher.EnsureSubscription();
        // Whatever the boundary buffers, the sink takes one batch and then waits in its write. The write holds the
        // sink's island (the stage and its input boundary share one thread), so nothing there can ask for more
        // until it returns: any demand beyond the first would have been asked for before the write, and be here.
        var demand = publisher.ExpectRequest();
        for (var i = 0; i < demand; i++) publisher.SendNext(Batch(i, 1));
        await AwaitAssertAsync(() => Assert.Equal(1, output.Writes), TimeSpan.FromSeconds(10));
        publisher.ExpectNoMsg(TimeSpan.Zero);
        Assert.Equal(1, output.Writes);

        output.Gate.Release(int.MaxValue / 2);
        publisher.ExpectRequest();
        publisher.SendComplete();
        Assert.Equal(demand, await written.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Upstream_failure_fails_the_count()
    {
        var (publisher, written) = this.SourceProbe<StepBatch>()
            .ToMaterialized(Sink.FromGraph(new NdjsonSinkStage(new RecordingStream(), flushEachBatch: true)), Keep.Both)
            .Run(_materializer);

        publisher.SendNext(Batch(0, 3));
        var failure = new InvalidOperationException("model broke");
        publisher.SendError(failure);

        Assert.Same(failure, await Assert.ThrowsAsync<InvalidOperationException>(() => written.WaitAsync(TimeSpan.FromSeconds(5))));
    }

    [Fact]
    public async Task A_failing_write_fails_the_count_and_cancels_upstream()
    {
        var output = new RecordingStream { Failure = new IOException("disk full") };
        var (publisher, written) = this.SourceProbe<StepBatch>()
            .ToMaterialized(Sink.FromGraph(new NdjsonSinkStage(output, flushEachBatch: false)), Keep.Both)
            .Run(_materializer);

        publisher.SendNext(Batch(0, 3));

        Assert.Same(output.Failure, await Assert.ThrowsAsync<IOException>(() => written.WaitAsync(TimeSpan.FromSeconds(5))));
        publisher.ExpectCancellation();
    }

    /// <summary>Records what is written; a write may wait on a gate or throw.</summary>
    private sealed class RecordingStream : WriteOnlyTestStream
    {
        private int _writes, _flushes;

        public MemoryStream Data { get; } = new();
        public SemaphoreSlim? Gate { get; init; }
        public Exception? Failure { get; init; }
        public int Writes => Volatile.Read(ref _writes);
        public int Flushes => Volatile.Read(ref _flushes);

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Interlocked.Increment(ref _writes);
            Gate?.Wait();
            if (Failure is not null) throw Failure;
            Data.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() => Interlocked.Increment(ref _flushes);
    }
}
