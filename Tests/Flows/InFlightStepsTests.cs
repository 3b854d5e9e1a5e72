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

    [Fact]
    public void Tags_completed_as_a_span_leave_the_flight_as_if_completed_one_by_one_whatever_their_runs()
    {
        // Three fragments of four rows; a span of runs across fragments, out of fragment order and with gaps.
        var steps = new InFlightSteps(4);
        var tags = new List<(string Key, long Tag)>();
        for (var f = 0; f < 3; f++)
        {
            steps.StartFragment();
            foreach (var key in new[] { "a", "b", "c", "d" }) tags.Add((key, steps.Add(key)));
        }

        long[] batch = [tags[4].Tag, tags[5].Tag, tags[6].Tag, tags[0].Tag, tags[1].Tag, tags[9].Tag, tags[11].Tag];
        steps.Complete(batch);

        Assert.Equal(12 - batch.Length, steps.Count);
        Assert.Equal(tags[8].Tag, steps.LastOf("a"));    // rows 0 and 4 out, 8 still in flight
        Assert.Null(steps.LastOf("b"));                 // rows 1, 5 and 9 out: none in flight
        Assert.Equal(tags[10].Tag, steps.LastOf("c"));
        Assert.Equal(tags[7].Tag, steps.LastOf("d"));    // row 11 out, 7 and 3 in flight

        // The rest as one span: the flight is empty and a new fragment starts cleanly.
        steps.Complete(tags.Select(t => t.Tag).Except(batch).ToArray());
        Assert.Equal(0, steps.Count);
        Assert.Null(steps.LastOf("a"));
        steps.StartFragment();
        Assert.Equal((4L << 32) | 0, steps.Add("a"));
        Assert.Equal(1, steps.Count);
    }
}
