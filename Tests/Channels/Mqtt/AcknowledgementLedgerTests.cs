using LstmStream.Hosting.Channels.Mqtt;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>The bookkeeping of acknowledgement after the checkpoint: order, coverage, rejected and withdrawn readings.</summary>
public sealed class AcknowledgementLedgerTests
{
    [Fact]
    public void Readings_are_taken_in_arrival_order_and_one_not_yet_covered_holds_back_those_after_it()
    {
        var ledger = new AcknowledgementLedger<string>();
        ledger.Expect("a", "a0");
        ledger.Expect("b", "b0");
        ledger.Expect("a", "a1");

        // b0's output comes first (other keys are not ordered), but a0 arrived before it and has no output yet.
        ledger.Published([ledger.Delivered("b", round: 0)]);
        Assert.Empty(Take(ledger, committed: 1));

        Assert.Equal(0, ledger.Delivered("a", round: 0));
        Assert.Equal(2, ledger.Delivered("a", round: 1)); // the next output of a belongs to a1
        ledger.Published([0, 2]);
        Assert.Equal(["a0", "b0"], Take(ledger, committed: 1)); // a1 was delivered once round 1 had begun: round 1 does not cover it
        Assert.Equal(1, ledger.Count);
        Assert.Empty(Take(ledger, committed: 1));
        Assert.Equal(["a1"], Take(ledger, committed: 2));
        Assert.Equal(0, ledger.Count);
    }

    [Fact]
    public void A_delivered_reading_is_not_taken_before_its_output_is_published()
    {
        var ledger = new AcknowledgementLedger<string>();
        ledger.Expect("a", "a0");
        var position = ledger.Delivered("a", round: 0);

        Assert.Empty(Take(ledger, committed: 5));
        ledger.Published([position]);
        Assert.Equal(["a0"], Take(ledger, committed: 5));
    }

    [Fact]
    public void Rejected_readings_are_taken_in_their_turn_and_withdrawn_ones_are_passed_over()
    {
        var ledger = new AcknowledgementLedger<string>();
        ledger.Expect("a", "a0");
        ledger.Settle("bad1");
        var withdrawn = ledger.Expect("b", "b0");
        ledger.Settle("bad2");
        ledger.Withdraw(withdrawn);

        // Nothing before a0 is covered, so the rejected readings behind it wait.
        Assert.Empty(Take(ledger, committed: 1));
        ledger.Published([ledger.Delivered("a", round: 0)]);
        Assert.Equal(["a0", "bad1", "bad2"], Take(ledger, committed: 1));
        Assert.Equal(0, ledger.Count);

        // A withdrawn reading no longer waits for an output: the key's next output belongs to its next reading.
        ledger.Expect("b", "b1");
        Assert.Equal(4, ledger.Delivered("b", round: 1));
        Assert.Equal(-1, ledger.Delivered("b", round: 1));
    }

    [Fact]
    public void Outputs_are_matched_to_the_oldest_waiting_reading_of_their_key_through_growth_and_wrap_around()
    {
        var random = new Random(5);
        var ledger = new AcknowledgementLedger<long>(capacity: 2);
        var waiting = new Dictionary<string, Queue<long>>();
        var delivered = new List<long>();
        long received = 0, taken = 0;
        for (var round = 0; round < 40; round++)
        {
            // Readings of 7 keys arrive interleaved; outputs come back in order per key, keys shuffled.
            for (var i = random.Next(0, 60); i > 0; i--)
            {
                var key = $"k{random.Next(7)}";
                Assert.Equal(received, ledger.Expect(key, received));
                (waiting.TryGetValue(key, out var queue) ? queue : waiting[key] = new Queue<long>()).Enqueue(received++);
            }

            for (var i = random.Next(0, 60); i > 0; i--)
            {
                var keys = waiting.Where(w => w.Value.Count > 0).Select(w => w.Key).ToList();
                if (keys.Count == 0) break;
                var key = keys[random.Next(keys.Count)];
                var position = ledger.Delivered(key, round);
                Assert.Equal(waiting[key].Dequeue(), position);
                delivered.Add(position);
            }

            ledger.Published(delivered.ToArray());
            delivered.Clear();
            var batch = Take(ledger, committed: round + 1);
            Assert.Equal(Enumerable.Range(0, batch.Count).Select(i => taken + i), batch);
            taken += batch.Count;
            Assert.Equal(received - taken, ledger.Count);
        }

        Assert.True(taken > 100, $"only {taken} readings were taken");
    }

    private static List<T> Take<T>(AcknowledgementLedger<T> ledger, long committed)
    {
        var taken = new List<T>();
        Assert.Equal(ledger.TakeCovered(committed, taken), taken.Count);
        return taken;
    }
}
