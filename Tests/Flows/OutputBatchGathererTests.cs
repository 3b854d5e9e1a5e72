using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Flows;
using LstmStream.Pipeline.Streaming;
using Akka.Streams.TestKit;

namespace LstmStream.Tests.Flows;

public sealed class OutputBatchGathererTests : Akka.TestKit.Xunit2.TestKit
{
    private const int Width = 2;
    private readonly IMaterializer _materializer;

    public OutputBatchGathererTests() => _materializer = Sys.Materializer();

    /// <summary>A batch of <paramref name="rows"/> rows numbered from <paramref name="first"/>: key k{n}, seq n, tag 10n, slot n, data (n, -n).</summary>
    private static StepBatch Batch(int first, int rows)
    {
        var batch = StepBatch.Rent(Math.Max(1, rows), Width);
        for (var n = first; n < first + rows; n++)
        {
            var r = batch.Add($"k{n}", n, StepFlags.HasSeq, 10L * n);
            batch.Slots[r] = n;
            batch.Row(r)[0] = n;
            batch.Row(r)[1] = -n;
        }

        return batch;
    }

    /// <summary>The numbers of a gathered batch's rows, each row checked against <see cref="Batch"/>'s content; the batch is released.</summary>
    private static List<int> Numbers(StepBatch b)
    {
        var numbers = new List<int>();
        for (var r = 0; r < b.Count; r++)
        {
            var n = (int)b.Seq[r];
            Assert.Equal(($"k{n}", StepFlags.HasSeq, 10L * n, n, (float)n, (float)-n),
                (b.Keys[r], b.Flags[r], b.Tags[r], b.Slots[r], b.Row(r)[0], b.Row(r)[1]));
            numbers.Add(n);
        }

        b.Release();
        return numbers;
    }

    private (TestPublisher.Probe<StepBatch> Upstream, TestSubscriber.Probe<StepBatch> Downstream) Run(int rows, bool adopt = false) =>
        this.SourceProbe<StepBatch>().Via(new OutputBatchGatherer(rows, Width, adopt))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both).Run(_materializer);

    [Fact]
    public void Micro_batches_that_finish_while_the_caller_is_busy_come_out_as_one_batch_with_every_row_in_order()
    {
        var (upstream, downstream) = Run(64);
        var batches = Enumerable.Range(0, 5).Select(i => Batch(3 * i, 3)).ToList();
        foreach (var batch in batches) upstream.SendNext(batch);

        downstream.Request(1);
        Assert.Equal(Enumerable.Range(0, 15), Numbers(downstream.ExpectNext()));
        // The micro-batches went back to the pool once copied.
        Assert.All(batches, b => Assert.Null(b.Keys));

        upstream.SendComplete();
        downstream.Request(1);
        downstream.ExpectComplete();
    }

    [Fact]
    public void Adopting_a_large_micro_batch_hands_it_on_itself_and_later_ones_join_it_while_they_fit()
    {
        var (upstream, downstream) = Run(256, adopt: true);
        var large = Batch(0, OutputBatchGatherer.MinHandOverRows);
        upstream.SendNext(large);
        downstream.Request(1);
        var first = downstream.ExpectNext();
        Assert.Same(large, first);
        Assert.Equal(Enumerable.Range(0, OutputBatchGatherer.MinHandOverRows), Numbers(first));

        // A small one first is copied (it may be joined by more); a large one then joins the copy, as without adopting.
        var small = Batch(100, 3);
        upstream.SendNext(small);
        var next = Batch(103, OutputBatchGatherer.MinHandOverRows);
        upstream.SendNext(next);
        downstream.Request(1);
        var joined = downstream.ExpectNext();
        Assert.NotSame(small, joined);
        Assert.NotSame(next, joined);
        Assert.Equal(Enumerable.Range(100, 3 + OutputBatchGatherer.MinHandOverRows), Numbers(joined));
        Assert.Null(small.Keys);
        Assert.Null(next.Keys);

        upstream.SendComplete();
        downstream.Request(1);
        downstream.ExpectComplete();
    }

    [Fact]
    public void A_batch_goes_as_soon_as_the_caller_asks()
    {
        var (upstream, downstream) = Run(64);
        downstream.Request(1);
        upstream.SendNext(Batch(0, 2));
        Assert.Equal([0, 1], Numbers(downstream.ExpectNext()));
        upstream.SendNext(Batch(2, 0));
        upstream.SendNext(Batch(2, 1));
        downstream.Request(1);
        Assert.Equal([2], Numbers(downstream.ExpectNext()));
        upstream.SendComplete();
        downstream.ExpectComplete();
    }

    [Fact]
    public void Small_micro_batches_finishing_in_one_burst_while_the_caller_waits_go_out_together()
    {
        // The caller asks first; then one event makes this island emit 20 one-row micro-batches in one go (as the model's
        // island does with a key or a few). They cross in one batch, not as the first row and then the rest.
        var (trigger, downstream) = this.SourceProbe<int>()
            .SelectMany(first => Enumerable.Range(first, 20).Select(n => Batch(n, 1)))
            .Via(new OutputBatchGatherer(256, Width))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both).Run(_materializer);
        downstream.Request(1);
        trigger.SendNext(0);
        Assert.Equal(Enumerable.Range(0, 20), Numbers(downstream.ExpectNext()));

        // A burst that finishes before the caller asks is handed over whole at its demand.
        trigger.SendNext(100);
        downstream.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        downstream.Request(1);
        Assert.Equal(Enumerable.Range(100, 20), Numbers(downstream.ExpectNext()));
        trigger.SendComplete();
        downstream.Request(1);
        downstream.ExpectComplete();
    }

    [Fact]
    public void A_micro_batch_that_does_not_fit_waits_without_pulling_and_starts_the_next_batch()
    {
        var (upstream, downstream) = Run(7);
        upstream.SendNext(Batch(0, 3));
        upstream.SendNext(Batch(3, 3));
        upstream.SendNext(Batch(6, 3));
        upstream.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        downstream.Request(1);
        Assert.Equal(Enumerable.Range(0, 6), Numbers(downstream.ExpectNext()));
        upstream.SendNext(Batch(9, 2));
        upstream.SendComplete();
        downstream.Request(1);
        Assert.Equal(Enumerable.Range(6, 5), Numbers(downstream.ExpectNext()));
        downstream.ExpectComplete();
    }
}
