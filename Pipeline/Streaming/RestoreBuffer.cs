namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Records waiting for their key's stored state (durable sessions): a key that is not live parks its records here,
/// in order, while its state loads; later records of a key that still has records here park behind them, so a
/// key's order is kept while other keys flow. Rows live in fixed arrays of <see cref="Capacity"/> rows (allocated
/// on first use), chained per key; a full buffer makes the session stage stop taking input. Used by the session
/// stage only: not thread-safe.
/// </summary>
internal sealed class RestoreBuffer
{
    private const int None = -1;
    private readonly int _width;
    private readonly Dictionary<string, WaitingKey> _byKey = new(StringComparer.Ordinal);
    private readonly List<WaitingKey> _order = [];
    private readonly Stack<WaitingKey> _spare = new();
    private long[] _seq = [];
    private StepFlags[] _flags = [];
    private long[] _tags = [];
    private int[] _next = [];
    private float[] _data = [];
    private int[] _free = [];
    private int _freeCount;

    /// <param name="capacity">Most rows waiting at once.</param>
    /// <param name="width">Floats per row (the model's input size).</param>
    public RestoreBuffer(int capacity, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        Capacity = capacity;
        _width = width;
    }

    /// <summary>Where a waiting key's stored state is.</summary>
    public enum LoadState
    {
        /// <summary>Not asked for yet (or needed again: the key was evicted while records still waited).</summary>
        NeedsLoad,

        /// <summary>Asked for; the answer has not come.</summary>
        Loading,

        /// <summary>Answered: <see cref="WaitingKey.Loaded"/> is the state to apply (null: start from zero).</summary>
        Ready,
    }

    /// <summary>A key with waiting records.</summary>
    public sealed class WaitingKey
    {
        public string Key { get; internal set; } = "";
        public LoadState State { get; set; }
        public KeyState? Loaded { get; set; }
        internal int Head = None;
        internal int Tail = None;
        public int Rows { get; internal set; }
    }

    public int Capacity { get; }

    /// <summary>Rows waiting.</summary>
    public int Rows { get; private set; }

    /// <summary>Rows that can still be parked.</summary>
    public int FreeRows => Capacity - Rows;

    /// <summary>The keys with waiting rows, in the order their first waiting row arrived.</summary>
    public IReadOnlyList<WaitingKey> Keys => _order;

    /// <summary>The entry of <paramref name="key"/> when it has waiting rows.</summary>
    public bool TryGet(string key, out WaitingKey entry) => _byKey.TryGetValue(key, out entry!);

    /// <summary>
    /// Parks row <paramref name="row"/> of <paramref name="batch"/> behind its key's waiting rows (a new key gets an
    /// entry in <see cref="LoadState.NeedsLoad"/>); returns the key's entry.
    /// </summary>
    public WaitingKey Park(StepBatch batch, int row)
    {
        if (Rows == Capacity) throw new InvalidOperationException($"the restore buffer is full ({Capacity} rows)");
        var key = batch.Keys[row];
        if (!_byKey.TryGetValue(key, out var entry))
        {
            entry = _spare.Count > 0 ? _spare.Pop() : new WaitingKey();
            entry.Key = key;
            entry.State = LoadState.NeedsLoad;
            entry.Loaded = null;
            entry.Head = entry.Tail = None;
            entry.Rows = 0;
            _byKey.Add(key, entry);
            _order.Add(entry);
        }

        var at = NewRow();
        _seq[at] = batch.Seq[row];
        _flags[at] = batch.Flags[row];
        _tags[at] = batch.Tags[row];
        _next[at] = None;
        batch.Data.AsSpan(row * _width, _width).CopyTo(_data.AsSpan(at * _width, _width));
        if (entry.Tail == None) entry.Head = at;
        else _next[entry.Tail] = at;
        entry.Tail = at;
        entry.Rows++;
        Rows++;
        return entry;
    }

    /// <summary>Moves the oldest waiting row of <paramref name="entry"/> into <paramref name="batch"/> as a new row.</summary>
    public void TakeHead(WaitingKey entry, StepBatch batch)
    {
        var at = entry.Head;
        if (at == None) throw new InvalidOperationException($"key '{entry.Key}' has no waiting row");
        var r = batch.Add(entry.Key, _seq[at], _flags[at], _tags[at]);
        _data.AsSpan(at * _width, _width).CopyTo(batch.Row(r));
        entry.Head = _next[at];
        if (entry.Head == None) entry.Tail = None;
        entry.Rows--;
        Rows--;
        _free[_freeCount++] = at;
    }

    /// <summary>Forgets the keys whose rows have all been taken (keeping the others' order).</summary>
    public void RemoveEmpty()
    {
        var kept = 0;
        for (var i = 0; i < _order.Count; i++)
        {
            var entry = _order[i];
            if (entry.Rows > 0)
            {
                _order[kept++] = entry;
                continue;
            }

            _byKey.Remove(entry.Key);
            entry.Loaded = null;
            entry.Key = "";
            _spare.Push(entry);
        }

        _order.RemoveRange(kept, _order.Count - kept);
    }

    private int NewRow()
    {
        if (_seq.Length == 0)
        {
            _seq = new long[Capacity];
            _flags = new StepFlags[Capacity];
            _tags = new long[Capacity];
            _next = new int[Capacity];
            _data = new float[Capacity * _width];
            _free = new int[Capacity];
            for (var i = 0; i < Capacity; i++) _free[i] = Capacity - 1 - i;
            _freeCount = Capacity;
        }

        return _free[--_freeCount];
    }
}
