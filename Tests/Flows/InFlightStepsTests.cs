using LstmStream.Pipeline.Flows;

namespace LstmStream.Tests.Flows;

public sealed class InFlightStepsTests
{
    [Fact]
    public void A_tag_names_the_fragment_and_the_row()
    {
        var steps = new InFlightSteps(4);
        steps.StartFragment();
        Assert.Equal((1L << 32) | 0, steps.Add("a"));
        Assert.Equal((1L << 32) | 1, steps.Add("b"));
        steps.StartFragment();
        Assert.Equal((2L << 32) | 0, steps.Add("a"));
        Assert.Equal(3, steps.Count);
    }

    [Fact]
    public void A_key_finds_its_last_step_still_in_flight_across_many_fragments_completed_out_of_order()
    {
        // 20 fragments in flight at once: more than the ring's first size, so it grows with fragments in it.
        var steps = new InFlightSteps(3);
        var tags = new List<(string Key, long Tag)>();
        for (var f = 0; f < 20; f++)
        {
            steps.StartFragment();
            foreach (var key in new[] { $"k{f % 5}", "shared", $"k{(f + 1) % 5}" }) tags.Add((key, steps.Add(key)));
        }

        Assert.Equal(60, steps.Count);
        Assert.Equal(tags.Last(t => t.Key == "shared").Tag, steps.LastOf("shared"));
        Assert.Equal(tags.Last(t => t.Key == "k3").Tag, steps.LastOf("k3"));
        Assert.Null(steps.LastOf("nobody"));

        // Outputs come back per key in order, keys interleaved differently: complete every "shared" row, then the rest backwards.
        foreach (var (_, tag) in tags.Where(t => t.Key == "shared")) steps.Complete(tag);
        Assert.Null(steps.LastOf("shared"));
        Assert.Equal(tags.Last(t => t.Key == "k0").Tag, steps.LastOf("k0"));

        var rest = tags.Where(t => t.Key != "shared").ToList();
        for (var i = rest.Count - 1; i >= 0; i--)
        {
            steps.Complete(rest[i].Tag);
            var earlier = rest.Take(i).LastOrDefault(t => t.Key == rest[i].Key);
            Assert.Equal(earlier.Key is null ? null : earlier.Tag, steps.LastOf(rest[i].Key));
        }

        Assert.Equal(0, steps.Count);
    }

    [Fact]
    public void Fragments_keep_numbering_after_older_ones_are_out()
    {
        var steps = new InFlightSteps(2);
        for (var f = 1; f <= 100; f++)
        {
            steps.StartFragment();
            var a = steps.Add("a");
            var b = steps.Add("b");
            Assert.Equal((long)f << 32, a);
            Assert.Equal(b, steps.LastOf("b"));
            steps.Complete(a);
            steps.Complete(b);
            Assert.Null(steps.LastOf("a"));
        }

        Assert.Equal(0, steps.Count);
    }
}
