namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Which live keys' state changed since their bucket's last checkpoint (durable sessions): per bucket an
/// intrusive doubly linked list of slots, so marking a slot, unmarking it (eviction, end) and taking a bucket's
/// dirty slots are O(1) per slot, never a scan of live keys. Each slot remembers its key's bucket
/// (<see cref="KeyBuckets.BucketOf"/>), set when the key becomes live. Used by the session stage only: not
/// thread-safe.
/// </summary>
internal sealed class DirtyKeys
{
    private const int None = -1;
    private const int Clean = -2;
    private readonly int[] _head;
    private int[] _bucketOf = new int[16];
    private int[] _next = new int[16];
    private int[] _previous = CleanSlots(16);

    /// <param name="bucketCount">The store's bucket count.</param>
    public DirtyKeys(int bucketCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketCount);
        BucketCount = bucketCount;
        _head = new int[bucketCount];
        Array.Fill(_head, None);
    }

    public int BucketCount { get; }

    /// <summary>Dirty slots in all buckets.</summary>
    public int Count { get; private set; }

    /// <summary>A key became live in <paramref name="slot"/>: remembers its bucket; the slot starts clean.</summary>
    public void Assign(int slot, string key)
    {
        if (slot >= _bucketOf.Length)
        {
            var size = Math.Max(slot + 1, _bucketOf.Length * 2);
            Array.Resize(ref _bucketOf, size);
            Array.Resize(ref _next, size);
            var old = _previous.Length;
            Array.Resize(ref _previous, size);
            Array.Fill(_previous, Clean, old, size - old);
        }

        Unmark(slot);
        _bucketOf[slot] = KeyBuckets.BucketOf(key, BucketCount);
    }

    /// <summary>The bucket of the key live in <paramref name="slot"/>.</summary>
    public int BucketOf(int slot) => _bucketOf[slot];

    /// <summary>True when <paramref name="slot"/> is marked dirty.</summary>
    public bool IsDirty(int slot) => _previous[slot] != Clean;

    /// <summary>Marks <paramref name="slot"/> dirty (its state changed); O(1), nothing when it already is.</summary>
    public void Mark(int slot)
    {
        if (_previous[slot] != Clean) return;
        var bucket = _bucketOf[slot];
        var head = _head[bucket];
        _previous[slot] = None;
        _next[slot] = head;
        if (head != None) _previous[head] = slot;
        _head[bucket] = slot;
        Count++;
    }

    /// <summary>Marks <paramref name="slot"/> clean (its state was saved or is gone); O(1).</summary>
    public void Unmark(int slot)
    {
        var previous = _previous[slot];
        if (previous == Clean) return;
        var next = _next[slot];
        if (previous == None) _head[_bucketOf[slot]] = next;
        else _next[previous] = next;
        if (next != None) _previous[next] = previous;
        _previous[slot] = Clean;
        Count--;
    }

    /// <summary>Adds the buckets that have a dirty slot to <paramref name="buckets"/>, in ascending order.</summary>
    public void DirtyBuckets(List<int> buckets)
    {
        if (Count == 0) return;
        for (var b = 0; b < _head.Length; b++)
        {
            if (_head[b] != None) buckets.Add(b);
        }
    }

    /// <summary>Moves every dirty slot of <paramref name="bucket"/> into <paramref name="slots"/> and marks them clean.</summary>
    public void Take(int bucket, List<int> slots)
    {
        var slot = _head[bucket];
        while (slot != None)
        {
            var next = _next[slot];
            _previous[slot] = Clean;
            slots.Add(slot);
            Count--;
            slot = next;
        }

        _head[bucket] = None;
    }

    private static int[] CleanSlots(int size)
    {
        var slots = new int[size];
        Array.Fill(slots, Clean);
        return slots;
    }
}
