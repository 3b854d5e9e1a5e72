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

    [Fact]
    public void A_buckets_live_export_holds_every_live_key_of_it_counts_the_changed_ones_and_leaves_them_clean()
    {
        var dirty = new DirtyKeys(bucketCount: 4);
        var keys = Enumerable.Range(0, 40).Select(i => $"key-{i}").ToArray();
        for (var slot = 0; slot < keys.Length; slot++) dirty.Assign(slot, keys[slot]);
        for (var slot = 0; slot < keys.Length; slot += 3) dirty.Mark(slot);
        dirty.Release(3); // evicted while dirty: neither live nor dirty any more
        dirty.Release(4); // evicted while clean
        dirty.Assign(4, "newcomer"); // the slot given to another key

        var holders = keys.Select((key, slot) => (Key: slot == 4 ? "newcomer" : key, Slot: slot)).Where(k => k.Slot != 3).ToArray();
        var exported = new List<int>();
        var changed = 0;
        for (var bucket = 0; bucket < 4; bucket++)
        {
            var slots = new List<int>();
            changed += dirty.TakeLive(bucket, slots);
            Assert.Equal(holders.Where(k => KeyBuckets.BucketOf(k.Key, 4) == bucket).Select(k => k.Slot).Order(), slots.Order());
            exported.AddRange(slots);
        }

        Assert.Equal(holders.Select(k => k.Slot).Order(), exported.Order());
        Assert.Equal(Enumerable.Range(0, keys.Length).Count(s => s % 3 == 0 && s != 3), changed);
        Assert.Equal(0, dirty.Count);
        Assert.All(exported, s => Assert.False(dirty.IsDirty(s)));
        var again = new List<int>();
        Assert.Equal(0, dirty.TakeLive(KeyBuckets.BucketOf(keys[0], 4), again)); // still live, no longer changed
        Assert.Contains(0, again);
    }
}
