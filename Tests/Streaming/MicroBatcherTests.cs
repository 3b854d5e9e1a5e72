using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

public sealed class MicroBatcherTests : Akka.TestKit.Xunit2.TestKit
{
    private const int Width = 3;
    private readonly IMaterializer _materializer;

    public MicroBatcherTests() => _materializer = Sys.Materializer();

    private static TestStep Step(string key, long tag) => new(key, tag, [tag, tag + 0.5f, -tag], StepFlags.HasSeq, tag);

    private async Task<List<List<TestOutput>>> BatchAsync(int maxRows, IEnumerable<StepBatch> fragments)
    {
        var index = 0;
        var batches = await Source.From(fragments)
            .Via(new MicroBatcher(maxRows, TimeSpan.FromSeconds(30), Width))
            .Select(b => Drain(b, index++))
            .RunWith(Sink.Seq<List<TestOutput>>(), _materializer)
            .WaitAsync(TimeSpan.FromSeconds(20));
        return batches.ToList();
    }

    private static string Keys(List<TestOutput> batch) => string.Join(",", batch.Select(o => o.Key));

    [Fact]
    public async Task A_repeated_key_closes_the_open_batch_first()
    {
        var batches = await BatchAsync(10, [Fragment([Step("a", 0), Step("b", 1), Step("a", 2), Step("c", 3)], Width), Fragment([Step("c", 4)], Width)]);

        Assert.Equal(["a,b", "a,c", "c"], batches.Select(Keys));
        Assert.Equal([0L, 1, 2, 3, 4], batches.SelectMany(b => b).Select(o => o.Tag));
    }

    [Fact]
    public async Task Full_batches_are_emitted_and_the_rest_is_flushed_at_completion()
    {
        var steps = Enumerable.Range(0, 7).Select(i => Step($"k{i}", i)).ToList();
        var batches = await BatchAsync(3, [Fragment(steps.Take(2), Width), Fragment(steps.Skip(2), Width)]);

        Assert.Equal([3, 3, 1], batches.Select(b => b.Count));
    }

    [Fact]
    public async Task Rows_keep_their_order_values_and_metadata_and_batches_hold_distinct_keys()
    {
        var rng = new Random(3);
        var steps = InterleavedSteps(rng, keys: 40, maxSteps: 20, width: Width, controlRate: 0.1);
        var batches = await BatchAsync(16, Fragments(steps, Width, rng, maxRows: 30));
        var rows = batches.SelectMany(b => b).ToList();

        Assert.Equal(steps.Count, rows.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            Assert.Equal(steps[i].Tag, rows[i].Tag);
            Assert.Equal(steps[i].Key, rows[i].Key);
            Assert.Equal(steps[i].Seq, rows[i].Seq);
            Assert.Equal(steps[i].Flags, rows[i].Flags);
            Assert.Equal(steps[i].X, rows[i].Y);
        }

        AssertBatchesWellFormed(rows, 16);
        Assert.All(batches, b => Assert.NotEmpty(b));
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(3, 11)]
    public async Task It_does_not_pull_while_its_open_and_pending_batches_are_taken(int batchesTaken, int pulled)
    {
        var produced = 0; // fragments the batcher pulled (the enumerable source itself reads one ahead)
        IEnumerable<StepBatch> Endless()
        {
            for (var i = 0; ; i++) yield return Fragment([Step($"k{i}", i)], Width);
        }

        var (stopped, sink) = Source.From(Endless())
            .Select(f =>
            {
                Interlocked.Increment(ref produced);
                return f;
            })
            .Via(new MicroBatcher(2, TimeSpan.FromSeconds(30), Width))
            .WatchTermination(Keep.Right)
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        await sink.RequestAsync(1);
        Assert.Equal("k0,k1", Keys(Drain(await sink.ExpectNextAsync(), 0)));
        if (batchesTaken > 1)
        {
            await sink.RequestAsync(batchesTaken - 1);
            for (var b = 1; b < batchesTaken; b++) Assert.Equal($"k{2 * b},k{2 * b + 1}", Keys(Drain(await sink.ExpectNextAsync(), b)));
        }

        // Cancelling is handled after everything the stage did for the demand so far; once the stream has stopped,
        // what it pulled is final. One taken: batch k2,k3 waits for demand, batch k4,k5 is open and full,
        // fragment k6 is in hand. Three taken: the same, four fragments on.
        await sink.CancelAsync();
        await stopped.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(pulled, Volatile.Read(ref produced));
    }

    [Fact]
    public async Task A_full_open_batch_goes_out_on_demand_without_waiting_for_more_input()
    {
        var (source, sink) = this.SourceProbe<StepBatch>()
            .Via(new MicroBatcher(2, TimeSpan.FromSeconds(30), Width))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);

        await sink.RequestAsync(1);
        await source.SendNextAsync(Fragment([Step("k0", 0), Step("k1", 1), Step("k2", 2), Step("k3", 3)], Width));
        Assert.Equal("k0,k1", Keys(Drain(await sink.ExpectNextAsync(TimeSpan.FromSeconds(10)), 0)));

        // k2,k3 filled the open batch while k0,k1 waited for demand; the next demand takes it at once.
        await sink.RequestAsync(1);
        Assert.Equal("k2,k3", Keys(Drain(await sink.ExpectNextAsync(TimeSpan.FromSeconds(5)), 1)));
        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }
}
