using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

public sealed class SessionSlotStageTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public SessionSlotStageTests() => _materializer = Sys.Materializer();

    private static StepBatch Batch(params (string Key, StepFlags Flags)[] rows)
    {
        var batch = StepBatch.Rent(rows.Length, 1);
        foreach (var (key, flags) in rows) batch.Add(key, 0, flags, 0);
        return batch;
    }

    private async Task<(List<(string Key, int Slot, StepFlags Flags)[]> Batches, SessionCounters Counters)> RunAsync(params StepBatch[] batches)
    {
        var (counters, task) = Source.From(batches)
            .ViaMaterialized(new SessionSlotStage(), Keep.Right)
            .Select(b =>
            {
                var rows = Enumerable.Range(0, b.Count).Select(r => (b.Keys[r], b.Slots[r], b.Flags[r])).ToArray();
                b.Release();
                return rows;
            })
            .ToMaterialized(Sink.Seq<(string, int, StepFlags)[]>(), Keep.Both)
            .Run(_materializer);
        var result = await task.WaitAsync(TimeSpan.FromSeconds(20));
        return (result.ToList(), counters);
    }

    [Fact]
    public async Task New_keys_get_reset_and_ended_slots_are_reused_only_in_a_later_batch()
    {
        var (batches, counters) = await RunAsync(
            Batch(("a", StepFlags.None), ("b", StepFlags.End)),
            Batch(("c", StepFlags.None), ("a", StepFlags.End), ("b", StepFlags.None)),
            Batch(("d", StepFlags.None), ("a", StepFlags.None)));

        var (a0, b0) = (batches[0][0], batches[0][1]);
        Assert.True((a0.Flags & StepFlags.Reset) != 0 && (b0.Flags & StepFlags.Reset) != 0);
        Assert.NotEqual(a0.Slot, b0.Slot);

        // Batch 2: b was ended, so b is new again (reset) and may reuse its old slot; c is new;
        // a continues (no reset) and is ended in this batch, but its slot is not reused before batch 3.
        var (c1, a1, b1) = (batches[1][0], batches[1][1], batches[1][2]);
        Assert.Equal(a0.Slot, a1.Slot);
        Assert.Equal(StepFlags.End, a1.Flags);
        Assert.True((b1.Flags & StepFlags.Reset) != 0);
        Assert.True((c1.Flags & StepFlags.Reset) != 0);
        Assert.Equal(3, new[] { c1.Slot, a1.Slot, b1.Slot }.Distinct().Count());
        Assert.Contains(b0.Slot, new[] { c1.Slot, b1.Slot });

        // Batch 3: a's slot is free again and reused by a new key.
        var (d2, a2) = (batches[2][0], batches[2][1]);
        Assert.True((a2.Flags & StepFlags.Reset) != 0);
        Assert.Equal(a1.Slot, d2.Slot); // d is acquired first and takes the freed slot
        Assert.Equal(3, a2.Slot); // four live keys need four slots
        Assert.True(Math.Max(d2.Slot, a2.Slot) <= 3, "slots were not reused");

        Assert.Equal(4, counters.LiveKeys); // c, b, d, a
        Assert.Equal(6, counters.KeysCreated);
        Assert.Equal(2, counters.KeysEnded);
        Assert.Equal(3, counters.Batches);
    }

    [Fact]
    public async Task A_key_twice_in_one_batch_fails_the_stream_naming_it()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunAsync(Batch(("x", StepFlags.None), ("dup-key", StepFlags.None), ("dup-key", StepFlags.None))));
        Assert.Contains("'dup-key'", error.Message);
        Assert.Contains("twice", error.Message);
    }
}
