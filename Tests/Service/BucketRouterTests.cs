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

        // A partial answer is not enough; the full one sends the oldest queued record of each key as one envelope (a key twice
        // in one envelope would cut the owner's micro-batch there), the later ones follow once it is answered.
        router.Answered(Outputs(toA) with { Keys = [a1], Seq = [1], Flags = [StepFlags.HasSeq], Tags = [1000] });
        region.ExpectNoMsg(Quiet);
        router.Answered(Outputs(toA) with { Keys = [a2], Seq = [1], Flags = [StepFlags.HasSeq], Tags = [1002] });
        var next = region.ExpectMsg<RoutedRecords>();
        Assert.Equal(new[] { a1, a2 }, next.Keys);
        Assert.Equal(new long[] { 2, 2 }, next.Seq);
        Assert.Equal(new float[] { 2, -2, 2, -2 }, next.Data);
        Assert.Equal(new long[] { 1000, 1001 }, next.Tags);
        Assert.Equal(3, router.Queued);
        region.ExpectNoMsg(Quiet);

        router.Answered(Outputs(next));
        var last = region.ExpectMsg<RoutedRecords>();
        Assert.Equal(new[] { a1, a2 }, last.Keys);
        Assert.Equal(new long[] { 3, 3 }, last.Seq);
        Assert.Equal(new float[] { 3, -3, 3, -3 }, last.Data);
        Assert.Equal(1, router.Queued);
    }

    [Fact]
    public void An_envelope_takes_the_oldest_record_of_each_key_and_the_rest_wait_in_order()
    {
        var region = CreateTestProbe();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1));
        var (a1, a2, _) = Keys();

        // One batch with a1 three times and a2 twice, interleaved: each envelope holds every key at most once, per-key order kept.
        var batch = Batch((a1, 1), (a1, 2), (a2, 1), (a1, 3), (a2, 2));
        router.Route(batch);
        batch.Release();
        var sent = new List<RoutedRecords>();
        for (var round = 0; round < 3; round++)
        {
            var envelope = region.ExpectMsg<RoutedRecords>();
            Assert.Equal(envelope.Keys.Length, envelope.Keys.Distinct().Count());
            region.ExpectNoMsg(Quiet);
            sent.Add(envelope);
            router.Answered(Outputs(envelope));
        }

        region.ExpectNoMsg(Quiet);
        Assert.Equal(new[] { a1, a2 }, sent[0].Keys);
        Assert.Equal(new long[] { 1, 1 }, sent[0].Seq);
        Assert.Equal(new[] { a1, a2 }, sent[1].Keys);
        Assert.Equal(new long[] { 2, 2 }, sent[1].Seq);
        Assert.Equal(new float[] { 2, -2, 2, -2 }, sent[1].Data);
        Assert.Equal(new long[] { 1001, 1004 }, sent[1].Tags);
        Assert.Equal(new[] { a1 }, sent[2].Keys);
        Assert.Equal(new long[] { 3 }, sent[2].Seq);
        Assert.Equal(0, router.Queued);
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

    /// <summary>A stand-in for the node's pipeline inbox: remembers every row that entered directly, in order.</summary>
    private sealed class DirectRows
    {
        public List<(string Key, long Seq, int Bucket, long Tag, float First)> Rows { get; } = [];
        public List<int> BatchSizes { get; } = [];
        public bool Refuse { get; set; }

        public bool Enter(StepBatch rows, ReadOnlySpan<int> buckets)
        {
            if (Refuse) return false;
            lock (Rows)
            {
                BatchSizes.Add(rows.Count);
                for (var r = 0; r < rows.Count; r++) Rows.Add((rows.Keys[r], rows.Seq[r], buckets[r], rows.Tags[r], rows.Row(r)[0]));
            }

            return true;
        }

        public long[] SeqOf(string key)
        {
            lock (Rows) return Rows.Where(r => r.Key == key).Select(r => r.Seq).ToArray();
        }
    }

    private static BucketRouter.Routing RouteAndRelease(BucketRouter router, StepBatch batch)
    {
        var routing = router.Route(batch);
        if (routing != BucketRouter.Routing.Taken) batch.Release();
        return routing;
    }

    [Fact]
    public void An_open_bucket_goes_direct_only_after_every_envelope_of_it_sent_before_was_answered()
    {
        var region = CreateTestProbe();
        var direct = new DirectRows();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1), direct.Enter);
        var (a1, a2, _) = Keys();
        var bucket = KeyBuckets.BucketOf(a1, Buckets);

        // Closed: the region. Then the entity starts here (the gate opens) while the envelope is still out.
        Assert.Equal(BucketRouter.Routing.Routed, RouteAndRelease(router, Batch((a1, 1))));
        var first = region.ExpectMsg<RoutedRecords>();
        router.Open(bucket);
        Assert.Equal(BucketRouter.Routing.Routed, RouteAndRelease(router, Batch((a1, 2), (a2, 2))));
        region.ExpectNoMsg(Quiet);
        Assert.Empty(direct.Rows);

        // Answered: what waited behind it still follows through the region (it was queued behind routed rows) ...
        router.Answered(Outputs(first));
        var second = region.ExpectMsg<RoutedRecords>();
        Assert.Equal(new long[] { 2, 2 }, second.Seq);
        Assert.Equal(BucketRouter.Routing.Routed, RouteAndRelease(router, Batch((a1, 3))));
        region.ExpectNoMsg(Quiet);
        router.Answered(Outputs(second));
        var third = region.ExpectMsg<RoutedRecords>();
        Assert.Equal(new long[] { 3 }, third.Seq);
        router.Answered(Outputs(third));

        // ... and only with nothing of the bucket in flight or queued, rows enter the pipeline, in the batch itself.
        var fourth = Batch((a1, 4), (a2, 4));
        Assert.Equal(BucketRouter.Routing.Taken, router.Route(fourth));
        fourth.Release();
        region.ExpectNoMsg(Quiet);
        Assert.Equal(new long[] { 4 }, direct.SeqOf(a1));
        Assert.All(direct.Rows, r => Assert.Equal(bucket, r.Bucket));
        Assert.Equal(new long[] { 1000, 1001 }, direct.Rows.Select(r => r.Tag));
        Assert.Equal(2, router.EnteredDirectly);
    }

    [Fact]
    public void Rows_of_open_buckets_enter_together_and_the_rest_of_the_batch_takes_the_region()
    {
        var region = CreateTestProbe();
        var direct = new DirectRows();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1), direct.Enter);
        var keys = Enumerable.Range(0, 200).Select(i => $"k{i}").ToList();
        var open = keys.Select(k => KeyBuckets.BucketOf(k, Buckets)).Distinct().Take(3).ToList();
        foreach (var bucket in open) router.Open(bucket);
        var batch = Batch(keys.Take(40).Select(k => (k, 1L)).ToArray());
        var expectedDirect = keys.Take(40).Where(k => open.Contains(KeyBuckets.BucketOf(k, Buckets))).ToList();

        Assert.Equal(BucketRouter.Routing.Routed, RouteAndRelease(router, batch));

        // One entry for the rows of every open bucket (copies: the batch stays the caller's); one envelope per other bucket.
        Assert.Equal([expectedDirect.Count], direct.BatchSizes);
        Assert.Equal(expectedDirect.Order(StringComparer.Ordinal), direct.Rows.Select(r => r.Key).Order(StringComparer.Ordinal));
        Assert.All(direct.Rows, r => Assert.Equal(KeyBuckets.BucketOf(r.Key, Buckets), r.Bucket));
        Assert.All(direct.Rows, r => Assert.Equal(1f, r.First));
        var routedKeys = new List<string>();
        var closedBuckets = keys.Take(40).Select(k => KeyBuckets.BucketOf(k, Buckets)).Distinct().Count() - open.Count;
        for (var i = 0; i < closedBuckets; i++) routedKeys.AddRange(region.ExpectMsg<RoutedRecords>().Keys);
        region.ExpectNoMsg(Quiet);
        Assert.Equal(40 - expectedDirect.Count, routedKeys.Count);
        Assert.DoesNotContain(routedKeys, expectedDirect.Contains);
    }

    [Fact]
    public async Task Once_the_gate_closes_a_key_s_later_rows_take_the_region_and_none_comes_before_one_that_entered_directly()
    {
        var region = CreateTestProbe();
        var direct = new DirectRows();
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1), direct.Enter);
        var (a1, _, _) = Keys();
        var bucket = KeyBuckets.BucketOf(a1, Buckets);
        router.Open(bucket);
        const int Records = 3000;
        var closed = new ManualResetEventSlim();

        // One thread routes the key's records, another closes the gate (the hand-off starts) meanwhile.
        var sender = Task.Run(() =>
        {
            for (var seq = 1L; seq <= Records; seq++)
            {
                RouteAndRelease(router, Batch((a1, seq)));
                if (seq == Records / 3) closed.Wait(TimeSpan.FromSeconds(10));
            }
        });
        var closer = Task.Run(() =>
        {
            while (direct.SeqOf(a1).Length < 100) Thread.Yield();
            router.Close(bucket);
            closed.Set();
        });
        await Task.WhenAll(sender, closer).WaitAsync(TimeSpan.FromSeconds(30));

        // Direct: a gapless start; the region: the first later record, and the rest queued behind it in order.
        var entered = direct.SeqOf(a1);
        Assert.Equal(Enumerable.Range(1, entered.Length).Select(i => (long)i), entered);
        Assert.InRange(entered.Length, 100, Records / 3);
        var routed = new List<long>();
        while (routed.Count < Records - entered.Length)
        {
            var envelope = region.ExpectMsg<RoutedRecords>();
            routed.AddRange(envelope.Seq);
            router.Answered(Outputs(envelope));
        }

        Assert.Equal(Enumerable.Range(entered.Length + 1, Records - entered.Length).Select(i => (long)i), routed);
        Assert.Equal(entered.Length, router.EnteredDirectly);
    }

    [Fact]
    public void A_batch_for_a_pipeline_that_takes_no_more_input_is_refused_whole()
    {
        var region = CreateTestProbe();
        var direct = new DirectRows { Refuse = true };
        var router = new BucketRouter(region, TestActor, Buckets, TimeSpan.FromMinutes(1), direct.Enter);
        var (a1, a2, b) = Keys();
        router.Open(KeyBuckets.BucketOf(a1, Buckets));

        Assert.Equal(BucketRouter.Routing.Refused, RouteAndRelease(router, Batch((a1, 1), (a2, 1))));
        Assert.Equal(BucketRouter.Routing.PartlyRefused, RouteAndRelease(router, Batch((a1, 2), (b, 2))));

        Assert.Equal(new[] { b }, region.ExpectMsg<RoutedRecords>().Keys);
        region.ExpectNoMsg(Quiet);
        Assert.Equal(0, router.EnteredDirectly);
    }
}
