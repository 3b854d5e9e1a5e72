namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The live keys of each bucket and which of them changed since their bucket's last checkpoint (durable sessions):
/// per bucket two intrusive doubly linked lists of slots (every live slot; the dirty ones), so a key becoming live,
/// leaving (eviction, end), marking a slot, unmarking it and taking a bucket's slots are O(1) per slot, never a scan
/// of all live keys. Each slot remembers its key's bucket (<see cref="KeyBuckets.BucketOf"/>), set when the key
/// becomes live. Used by the session stage only: not thread-safe.
/// </summary>
internal sealed class DirtyKeys
{
    private const int None = -1;
    private const int Clean = -2;
    private readonly int[] _head;
    private readonly int[] _liveHead;
    private int[] _bucketOf = new int[16];
    private int[] _next = new int[16];
    private int[] _previous = CleanSlots(16);
    private int[] _liveNext = new int[16];
    private int[] _livePrevious = CleanSlots(16);

    /// <param name="bucketCount">The store's bucket count.</param>
    public DirtyKeys(int bucketCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketCount);
        BucketCount = bucketCount;
        _head = new int[bucketCount];
        Array.Fill(_head, None);
        _liveHead = new int[bucketCount];
        Array.Fill(_liveHead, None);
    }

    public int BucketCount { get; }

    /// <summary>Dirty slots in all buckets.</summary>
    public int Count { get; private set; }

    /// <summary>A key became live in <paramref name="slot"/>: remembers its bucket and lists it there; the slot starts clean.</summary>
    public void Assign(int slot, string key)
    {
        if (slot >= _bucketOf.Length)
        {
            var size = Math.Max(slot + 1, _bucketOf.Length * 2);
            var old = _previous.Length;
            Array.Resize(ref _bucketOf, size);
            Array.Resize(ref _next, size);
            Array.Resize(ref _previous, size);
            Array.Fill(_previous, Clean, old, size - old);
            Array.Resize(ref _liveNext, size);
            Array.Resize(ref _livePrevious, size);
            Array.Fill(_livePrevious, Clean, old, size - old);
        }

        Release(slot);
        var bucket = KeyBuckets.BucketOf(key, BucketCount);
        _bucketOf[slot] = bucket;
        Link(_liveHead, _liveNext, _livePrevious, slot, bucket);
    }

    /// <summary>The key in <paramref name="slot"/> left (evicted, ended, dropped): unmarked and unlisted; O(1).</summary>
    public void Release(int slot)
    {
        Unmark(slot);
        Unlink(_liveHead, _liveNext, _livePrevious, slot);
    }

    /// <summary>The bucket of the key live in <paramref name="slot"/>.</summary>
    public int BucketOf(int slot) => _bucketOf[slot];

    /// <summary>True when <paramref name="slot"/> is marked dirty.</summary>
    public bool IsDirty(int slot) => _previous[slot] != Clean;

    /// <summary>Marks <paramref name="slot"/> dirty (its state changed); O(1), nothing when it already is.</summary>
    public void Mark(int slot)
    {
        if (_previous[slot] != Clean) return;
        Link(_head, _next, _previous, slot, _bucketOf[slot]);
        Count++;
    }

    /// <summary>Marks <paramref name="slot"/> clean (its state was saved or is gone); O(1).</summary>
    public void Unmark(int slot)
    {
        if (Unlink(_head, _next, _previous, slot)) Count--;
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

    /// <summary>
    /// Moves every live slot of <paramref name="bucket"/> into <paramref name="slots"/> (they stay live) and marks them
    /// clean; returns how many of them were dirty.
    /// </summary>
    public int TakeLive(int bucket, List<int> slots)
    {
        var dirty = 0;
        for (var slot = _liveHead[bucket]; slot != None; slot = _liveNext[slot])
        {
            if (_previous[slot] != Clean)
            {
                _previous[slot] = Clean;
                dirty++;
            }

            slots.Add(slot);
        }

        // Every dirty slot of the bucket is live, so all of them were met above.
        _head[bucket] = None;
        Count -= dirty;
        return dirty;
    }

    private static void Link(int[] heads, int[] next, int[] previous, int slot, int bucket)
    {
        var head = heads[bucket];
        previous[slot] = None;
        next[slot] = head;
        if (head != None) previous[head] = slot;
        heads[bucket] = slot;
    }

    private bool Unlink(int[] heads, int[] next, int[] previous, int slot)
    {
        var before = previous[slot];
        if (before == Clean) return false;
        var after = next[slot];
        if (before == None) heads[_bucketOf[slot]] = after;
        else next[before] = after;
        if (after != None) previous[after] = before;
        previous[slot] = Clean;
        return true;
    }

    private static int[] CleanSlots(int size)
    {
        var slots = new int[size];
        Array.Fill(slots, Clean);
        return slots;
    }
}
