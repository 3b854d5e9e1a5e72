using Akka.TestKit.Xunit2;
using LstmStream.Actors.Cluster;
using LstmStream.Hosting.Service;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Service;

public sealed class BucketRouterTests : TestKit
{
    private const int Buckets = 16;
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private static StepBatch Batch(params (string Key, long Seq)[] rows)
    {
        var batch = StepBatch.Rent(rows.Length, 2);
        for (var r = 0; r < rows.Length; r++)
        {
            batch.Add(rows[r].Key, rows[r].Seq, StepFlags.HasSeq, 1000 + r);
            batch.Row(r)[0] = rows[r].Seq;
            batch.Row(r)[1] = -rows[r].Seq;
        }

        return batch;
    }

    private static RoutedOutputs Outputs(RoutedRecords records) =>
        new(1, records.Keys, records.Seq, records.Flags, records.Tags, new float[records.Count]);

    /// <summary>Two keys of one bucket and one key of another.</summary>
    private static (string A1, string A2, string B) Keys()
    {
        var all = Enumerable.Range(0, 200).Select(i => $"k{i}").ToList();
        var a1 = all[0];
        var a2 = all.Skip(1).First(k => KeyBuckets.BucketOf(k, Buckets) == KeyBuckets.BucketOf(a1, Buckets));
        var b = all.First(k => KeyBuckets.BucketOf(k, Buckets) != KeyBuckets.BucketOf(a1, Buckets));
        return (a1, a2, b);
    }

    [Fact]
    public void A_bucket_has_one_envelope_in_flight_and_its_later_records_follow_in_order_once_it_is_answered()
    {
        var region = CreateTestProbe();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1));
        var (a1, a2, b) = Keys();

        var first = Batch((a1, 1), (b, 1), (a2, 1));
        router.Route(first);
        first.Release();
        var envelopes = new[] { region.ExpectMsg<RoutedRecords>(), region.ExpectMsg<RoutedRecords>() };
        var toA = envelopes.Single(e => e.Keys.Contains(a1));
        Assert.Equal(new[] { a1, a2 }, toA.Keys);
        Assert.Equal(new float[] { 1, -1, 1, -1 }, toA.Data);
        Assert.Equal(new long[] { 1000, 1002 }, toA.Tags);

        // While a1's envelope is out, its bucket's records wait here (in order); b's bucket was answered: goes at once.
        var toB = envelopes.Single(e => e.Keys.Contains(b));
        router.Answered(Outputs(toB));
        foreach (var seq in new long[] { 2, 3 })
        {
            var more = Batch((a1, seq), (a2, seq), (b, seq));
            router.Route(more);
            more.Release();
        }

        // b's seq 2 goes at once (its bucket was answered), its seq 3 waits behind it.
        var toB2 = region.ExpectMsg<RoutedRecords>();
        Assert.Equal(new[] { b }, toB2.Keys);
        Assert.Equal(new long[] { 2 }, toB2.Seq);
        region.ExpectNoMsg(Quiet);
        Assert.Equal(5, router.Queued);
        Assert.Empty(router.ReleaseStale());

        // A partial answer is not enough; the full one sends everything queued as one envelope.
        router.Answered(Outputs(toA) with { Keys = [a1], Seq = [1], Flags = [StepFlags.HasSeq], Tags = [1000] });
        region.ExpectNoMsg(Quiet);
        router.Answered(Outputs(toA) with { Keys = [a2], Seq = [1], Flags = [StepFlags.HasSeq], Tags = [1002] });
        var next = region.ExpectMsg<RoutedRecords>();
        Assert.Equal(new[] { a1, a2, a1, a2 }, next.Keys);
        Assert.Equal(new long[] { 2, 2, 3, 3 }, next.Seq);
        Assert.Equal(new float[] { 2, -2, 2, -2, 3, -3, 3, -3 }, next.Data);
        Assert.Equal(1, router.Queued);
    }

    [Fact]
    public void An_envelope_dropped_during_a_hand_off_is_sent_again_before_anything_later_of_its_bucket()
    {
        var region = CreateTestProbe();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1));
        var (a1, _, _) = Keys();
        var batch = Batch((a1, 1));
        router.Route(batch);
        batch.Release();
        var dropped = region.ExpectMsg<RoutedRecords>();
        var later = Batch((a1, 2));
        router.Route(later);
        later.Release();

        router.Resend(dropped);

        Assert.Same(dropped, region.ExpectMsg<RoutedRecords>());
        region.ExpectNoMsg(Quiet);
        Assert.Equal(1, router.Resent);
        router.Answered(Outputs(dropped));
        Assert.Equal(new long[] { 2 }, region.ExpectMsg<RoutedRecords>().Seq);
    }

    [Fact]
    public void An_envelope_whose_owner_died_with_it_is_given_up_after_the_stale_time_and_the_bucket_goes_on()
    {
        var region = CreateTestProbe();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMilliseconds(100));
        var (a1, _, _) = Keys();
        var batch = Batch((a1, 1));
        router.Route(batch);
        batch.Release();
        region.ExpectMsg<RoutedRecords>();
        var later = Batch((a1, 2));
        router.Route(later);
        later.Release();

        Thread.Sleep(150);
        var released = router.ReleaseStale();

        Assert.Equal(new[] { (KeyBuckets.BucketOf(a1, Buckets), 1) }, released);
        Assert.Equal(new long[] { 2 }, region.ExpectMsg<RoutedRecords>().Seq);
    }
}
