using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Streaming;

public sealed class DirtyKeysTests
{
    [Fact]
    public void A_bucket_gives_exactly_its_slots_marked_since_it_was_last_taken()
    {
        var dirty = new DirtyKeys(bucketCount: 4);
        var keys = Enumerable.Range(0, 40).Select(i => $"k{i}").ToArray();
        for (var slot = 0; slot < keys.Length; slot++) dirty.Assign(slot, keys[slot]);
        for (var slot = 0; slot < keys.Length; slot += 2) dirty.Mark(slot);
        dirty.Mark(0); // twice: once in its list
        dirty.Unmark(2); // evicted or ended: not exported

        var expected = Enumerable.Range(0, keys.Length).Where(s => s % 2 == 0 && s != 2).ToList();
        Assert.Equal(expected.Count, dirty.Count);
        var buckets = new List<int>();
        dirty.DirtyBuckets(buckets);
        Assert.Equal(expected.Select(s => KeyBuckets.BucketOf(keys[s], 4)).Distinct().Order(), buckets);

        var taken = new List<int>();
        foreach (var bucket in buckets)
        {
            var slots = new List<int>();
            dirty.Take(bucket, slots);
            Assert.All(slots, s => Assert.Equal(bucket, dirty.BucketOf(s)));
            Assert.All(slots, s => Assert.False(dirty.IsDirty(s)));
            taken.AddRange(slots);
        }

        Assert.Equal(expected, taken.Order());
        Assert.Equal(0, dirty.Count);
        var none = new List<int>();
        dirty.DirtyBuckets(none);
        Assert.Empty(none);
    }

    [Fact]
    public void A_slot_given_to_another_key_starts_clean_in_that_keys_bucket()
    {
        var dirty = new DirtyKeys(bucketCount: 64);
        var (a, b) = ("alpha", Enumerable.Range(0, 100).Select(i => $"b{i}").First(k => KeyBuckets.BucketOf(k, 64) != KeyBuckets.BucketOf("alpha", 64)));
        dirty.Assign(100, a); // grows past its first size
        dirty.Mark(100);
        dirty.Assign(100, b);

        Assert.False(dirty.IsDirty(100));
        Assert.Equal(KeyBuckets.BucketOf(b, 64), dirty.BucketOf(100));
        var slots = new List<int>();
        dirty.Take(KeyBuckets.BucketOf(a, 64), slots);
        Assert.Empty(slots);
    }
}
