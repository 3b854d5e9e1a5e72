namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The key → slot map of one pipeline: a slot is a row index into every layer's <see cref="StateArena"/>.
/// Freed slots go onto a free list and are reused, so the arenas grow only to the peak number of live
/// keys. Each live slot remembers its key, the tick (batch number) at which it was last used, which rules
/// out a key twice in one batch, the timestamp of that use and the <c>seq</c> of the last step applied to it. Live slots are kept on an intrusive doubly
/// linked list in order of last use (least recently used first, <see cref="Oldest"/>), so idle eviction and
/// a least-recently-used bound find their victims in O(1) each, without scanning live keys.
/// Used by one stage only: not thread-safe.
/// </summary>
internal sealed class SlotTable
{
    private const int None = -1;
    private readonly Dictionary<string, int> _slotOf = new(StringComparer.Ordinal);
    private string?[] _keys = new string?[16];
    private long[] _lastSeen = new long[16];
    private long[] _lastUsed = new long[16];
    private long[] _lastSeq = new long[16];
    private bool[] _hasLastSeq = new bool[16];
    private int[] _older = new int[16];
    private int[] _newer = new int[16];
    private int[] _free = new int[16];
    private int _freeCount;
    private int _oldest = None;
    private int _newest = None;

    /// <summary>Live keys.</summary>
    public int Count => _slotOf.Count;

    /// <summary>Slots ever handed out (live or free): every arena needs at least this many rows.</summary>
    public int HighWater { get; private set; }

    /// <summary>The live slot used least recently, or -1 when no key is live.</summary>
    public int Oldest => _oldest;

    /// <summary>Makes <paramref name="key"/> (not live) live in a free or new slot, as the most recently used.</summary>
    public int Add(string key, long tick, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(key);
        // One hash lookup: the slot NewSlot hands out next is the free list's top, else the high-water mark.
        if (!_slotOf.TryAdd(key, _freeCount > 0 ? _free[_freeCount - 1] : HighWater))
            throw new InvalidOperationException($"key '{key}' is already live");
        var slot = NewSlot();
        _keys[slot] = key;
        _lastSeen[slot] = tick;
        _lastUsed[slot] = timestamp;
        _hasLastSeq[slot] = false;
        Append(slot);
        return slot;
    }

    /// <summary>Stamps the live <paramref name="slot"/> as used now and moves it to the most recent end.</summary>
    public void Touch(int slot, long tick, long timestamp)
    {
        if (_keys[slot] is null) throw new InvalidOperationException($"slot {slot} is not in use");
        _lastSeen[slot] = tick;
        _lastUsed[slot] = timestamp;
        if (slot == _newest) return;
        Unlink(slot);
        Append(slot);
    }

    /// <summary>The slot of <paramref name="key"/>, or -1 when it is not live.</summary>
    public int Find(string key) => _slotOf.TryGetValue(key, out var slot) ? slot : -1;

    /// <summary>The key held in <paramref name="slot"/>, or null when the slot is free.</summary>
    public string? KeyAt(int slot) => _keys[slot];

    /// <summary>The tick at which <paramref name="slot"/> was last added or touched.</summary>
    public long LastSeen(int slot) => _lastSeen[slot];

    /// <summary>The timestamp at which <paramref name="slot"/> was last added or touched.</summary>
    public long LastUsed(int slot) => _lastUsed[slot];

    /// <summary>The <c>seq</c> of the last step applied to <paramref name="slot"/>'s state; false when none carried one.</summary>
    public bool TryGetLastSeq(int slot, out long seq)
    {
        seq = _lastSeq[slot];
        return _hasLastSeq[slot];
    }

    /// <summary>The last applied <c>seq</c> of <paramref name="slot"/>, or null when no step carried one.</summary>
    public long? LastSeq(int slot) => _hasLastSeq[slot] ? _lastSeq[slot] : null;

    /// <summary>Records <paramref name="seq"/> (null: none) as the last applied <c>seq</c> of <paramref name="slot"/>.</summary>
    public void SetLastSeq(int slot, long? seq)
    {
        _hasLastSeq[slot] = seq.HasValue;
        _lastSeq[slot] = seq.GetValueOrDefault();
    }

    /// <summary>Frees <paramref name="slot"/>: its key is no longer live and the slot may be reused.</summary>
    public void Release(int slot)
    {
        var key = _keys[slot] ?? throw new InvalidOperationException($"slot {slot} is not in use");
        _slotOf.Remove(key);
        _keys[slot] = null;
        Unlink(slot);
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = slot;
    }

    private int NewSlot()
    {
        if (_freeCount > 0) return _free[--_freeCount];
        var slot = HighWater++;
        if (slot == _keys.Length)
        {
            var size = _keys.Length * 2;
            Array.Resize(ref _keys, size);
            Array.Resize(ref _lastSeen, size);
            Array.Resize(ref _lastUsed, size);
            Array.Resize(ref _lastSeq, size);
            Array.Resize(ref _hasLastSeq, size);
            Array.Resize(ref _older, size);
            Array.Resize(ref _newer, size);
        }

        return slot;
    }

    private void Append(int slot)
    {
        _older[slot] = _newest;
        _newer[slot] = None;
        if (_newest == None) _oldest = slot;
        else _newer[_newest] = slot;
        _newest = slot;
    }

    private void Unlink(int slot)
    {
        int older = _older[slot], newer = _newer[slot];
        if (older == None) _oldest = newer;
        else _newer[older] = newer;
        if (newer == None) _newest = older;
        else _older[newer] = older;
        _older[slot] = _newer[slot] = None;
    }
}
