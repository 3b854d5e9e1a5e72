using System.Runtime.InteropServices;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The key → slot map of one pipeline: a slot is a row index into every layer's <see cref="StateArena"/>.
/// Freed slots go onto a free list and are reused, so the arenas grow only to the peak number of live
/// keys. Each slot remembers its key and the tick at which it was last used, which is what idle eviction
/// and a least-recently-used bound need (they call <see cref="Release"/> like <c>end</c> does).
/// Used by one stage only: not thread-safe.
/// </summary>
public sealed class SlotTable
{
    private readonly Dictionary<string, int> _slotOf = new(StringComparer.Ordinal);
    private string?[] _keys = new string?[16];
    private long[] _lastSeen = new long[16];
    private int[] _free = new int[16];
    private int _freeCount;

    /// <summary>Live keys.</summary>
    public int Count => _slotOf.Count;

    /// <summary>Slots ever handed out (live or free): every arena needs at least this many rows.</summary>
    public int HighWater { get; private set; }

    /// <summary>
    /// The slot of <paramref name="key"/>, created when the key is not live (<paramref name="created"/>),
    /// stamped with <paramref name="tick"/>. Returns -1 without changing anything when the key's slot was
    /// already stamped with this <paramref name="tick"/> (the key is twice in one batch).
    /// </summary>
    public int Acquire(string key, long tick, out bool created)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_slotOf, key, out var exists);
        created = !exists;
        if (exists)
        {
            if (_lastSeen[slot] == tick) return -1;
        }
        else
        {
            slot = NewSlot();
            _keys[slot] = key;
        }

        _lastSeen[slot] = tick;
        return slot;
    }

    /// <summary>The slot of <paramref name="key"/>, or -1 when it is not live.</summary>
    public int Find(string key) => _slotOf.TryGetValue(key, out var slot) ? slot : -1;

    /// <summary>The key held in <paramref name="slot"/>, or null when the slot is free.</summary>
    public string? KeyAt(int slot) => _keys[slot];

    /// <summary>The tick at which <paramref name="slot"/> was last acquired.</summary>
    public long LastSeen(int slot) => _lastSeen[slot];

    /// <summary>Frees <paramref name="slot"/>: its key is no longer live and the slot may be reused.</summary>
    public void Release(int slot)
    {
        var key = _keys[slot] ?? throw new InvalidOperationException($"slot {slot} is not in use");
        _slotOf.Remove(key);
        _keys[slot] = null;
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = slot;
    }

    private int NewSlot()
    {
        if (_freeCount > 0) return _free[--_freeCount];
        var slot = HighWater++;
        if (slot == _keys.Length)
        {
            Array.Resize(ref _keys, _keys.Length * 2);
            Array.Resize(ref _lastSeen, _lastSeen.Length * 2);
        }

        return slot;
    }
}
