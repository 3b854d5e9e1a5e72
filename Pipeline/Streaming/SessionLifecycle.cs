namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The rules for keys' state slots, applied by <see cref="SessionSlotStage"/> (one thread): a key's slot is
/// created on its first step (flagged <see cref="StepFlags.Reset"/>), freed after an <c>end</c> step, evicted
/// once idle for <see cref="PipelineOptions.IdleTimeout"/>, and evicted as the least recently used when a
/// new key arrives while <see cref="PipelineOptions.MaxLiveKeys"/> are live. Admin and state requests
/// (<see cref="StateRequest"/>) find, create, free or count keys here in stream order.
/// <para>
/// Cost: each row is one hash lookup plus O(1) list moves; an eviction check pops expired keys off the
/// least-recently-used end of the <see cref="SlotTable"/>'s list and stops at the first live one, so it is
/// O(evicted), never a scan of live keys.
/// </para>
/// </summary>
internal sealed class SessionLifecycle
{
    private readonly SlotTable _table = new();
    private readonly TimeProvider _clock;
    private readonly long _idleTimestamps;
    private readonly int _maxLiveKeys;
    private readonly Action<string, EvictionReason>? _onEvicted;
    private int[] _ended = new int[64];
    private long _tick;
    private long _created;
    private long _endedTotal;
    private long _evictedIdle;
    private long _evictedBound;
    private long _batches;

    /// <param name="options">The session settings, already validated (by <see cref="SessionSlotStage"/>).</param>
    public SessionLifecycle(PipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _clock = options.TimeProvider;
        IdleTimeout = options.IdleTimeout;
        _idleTimestamps = options.IdleTimeout is { } idle ? ToTimestamps(idle, _clock.TimestampFrequency) : long.MaxValue;
        _maxLiveKeys = options.MaxLiveKeys ?? int.MaxValue;
        _onEvicted = options.OnKeyEvicted;
    }

    public TimeSpan? IdleTimeout { get; }

    public TimeProvider Clock => _clock;

    public SessionCounts Counts =>
        new(_table.Count, _created, _endedTotal, _evictedIdle, _evictedBound, _batches, _table.HighWater);

    /// <summary>
    /// When the least recently used key will have been idle for the timeout (a <see cref="TimeProvider"/>
    /// timestamp), or null when no key is live or keys never expire.
    /// </summary>
    public long? NextExpiry =>
        IdleTimeout is null || _table.Oldest < 0 ? null : SaturatingAdd(_table.LastUsed(_table.Oldest), _idleTimestamps);

    /// <summary>Gives every row of a data batch its slot; the batch is the next item of the stream.</summary>
    /// <exception cref="InvalidOperationException">A key is twice in the batch (the batch is released).</exception>
    public void Assign(StepBatch batch)
    {
        var now = Begin();
        _batches++;
        int rows = batch.Count, ended = 0;
        if (_ended.Length < rows) _ended = new int[Math.Max(rows, _ended.Length * 2)];
        var keys = batch.Keys;
        var flags = batch.Flags;
        var slots = batch.Slots;
        for (var r = 0; r < rows; r++)
        {
            var key = keys[r];
            var slot = _table.Find(key);
            if (slot >= 0)
            {
                if (_table.LastSeen(slot) == _tick)
                {
                    var message = $"key '{key}' appears twice in one batch (row {r}); batches must hold distinct keys";
                    batch.Release();
                    throw new InvalidOperationException(message);
                }

                _table.Touch(slot, _tick, now);
            }
            else
            {
                slot = Create(key, now);
                if (slot < 0)
                {
                    var message = $"key '{key}' (row {r}) needs a state slot, but all {_table.Count} live keys " +
                                  $"({nameof(PipelineOptions.MaxLiveKeys)}) are in the same batch";
                    batch.Release();
                    throw new InvalidOperationException(message);
                }

                flags[r] |= StepFlags.Reset;
            }

            slots[r] = slot;
            if ((flags[r] & StepFlags.End) != 0) _ended[ended++] = slot;
        }

        // Ended slots are freed after the whole batch, so no later row of this batch can be given them.
        for (var i = 0; i < ended; i++) _table.Release(_ended[i]);
        _endedTotal += ended;
    }

    /// <summary>Acts on a state or admin request; the request is the next item of the stream.</summary>
    public void Control(StateRequest request)
    {
        var now = Begin();
        if (request.Error is not null) return;
        var keys = request.Keys;
        switch (request.Kind)
        {
            case StateRequestKind.Counts:
                request.Counts = Counts;
                return;
            case StateRequestKind.Import:
                if (keys.Length > _maxLiveKeys)
                {
                    request.Error = $"an import of {keys.Length} keys cannot fit under {nameof(PipelineOptions.MaxLiveKeys)} = {_maxLiveKeys}";
                    return;
                }

                for (var i = 0; i < keys.Length; i++)
                {
                    var slot = _table.Find(keys[i]);
                    if (slot >= 0) _table.Touch(slot, _tick, now);
                    else slot = Create(keys[i], now);
                    request.Slots[i] = slot; // never -1: the request's keys are distinct and fit under the bound
                }

                return;
            default:
                for (var i = 0; i < keys.Length; i++) request.Slots[i] = _table.Find(keys[i]);
                if (!request.Remove) return;
                foreach (var slot in request.Slots)
                {
                    if (slot < 0) continue;
                    _table.Release(slot);
                    _endedTotal++;
                }

                return;
        }
    }

    /// <summary>Evicts every key idle for the timeout as of now (the timer's check while no data flows).</summary>
    public void EvictIdle() => EvictIdle(_clock.GetTimestamp());

    /// <summary>Starts the next stream item: a new tick, and the idle keys evicted as of now.</summary>
    private long Begin()
    {
        _tick++;
        var now = _clock.GetTimestamp();
        EvictIdle(now);
        return now;
    }

    private void EvictIdle(long now)
    {
        if (IdleTimeout is null) return;
        while (_table.Oldest is var oldest and >= 0 && now - _table.LastUsed(oldest) >= _idleTimestamps)
        {
            _evictedIdle++;
            Evict(oldest, EvictionReason.Idle);
        }
    }

    /// <summary>
    /// A slot for <paramref name="key"/> (not live), evicting the least recently used key first when the bound
    /// is reached; -1 when every live key is in the item being processed (nothing may be evicted).
    /// </summary>
    private int Create(string key, long now)
    {
        if (_table.Count >= _maxLiveKeys)
        {
            var oldest = _table.Oldest;
            // Keys of the item being processed were all touched with this tick and sit at the recent end of
            // the list: when the oldest one has it too, every live key is in this item.
            if (_table.LastSeen(oldest) == _tick) return -1;
            _evictedBound++;
            Evict(oldest, EvictionReason.Bound);
        }

        _created++;
        return _table.Add(key, _tick, now);
    }

    private void Evict(int slot, EvictionReason reason)
    {
        var key = _table.KeyAt(slot)!;
        _table.Release(slot);
        _onEvicted?.Invoke(key, reason);
    }

    private static long ToTimestamps(TimeSpan span, long frequency)
    {
        var value = (Int128)span.Ticks * frequency / TimeSpan.TicksPerSecond;
        return value >= long.MaxValue ? long.MaxValue : Math.Max(1, (long)value);
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
