using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The rules for keys' state slots, applied by <see cref="SessionSlotStage"/> (one thread): a key's slot is
/// created on its first step (flagged <see cref="StepFlags.Reset"/>), freed after an <c>end</c> step, evicted
/// once idle for <see cref="PipelineOptions.IdleTimeout"/>, and evicted as the least recently used when a
/// new key arrives while <see cref="PipelineOptions.MaxLiveKeys"/> are live. Admin and state requests
/// (<see cref="StateRequest"/>) find, create, free or count keys here in stream order. Each live key keeps the
/// <c>seq</c> of its last applied step: a row whose <c>seq</c> is not above it is flagged
/// <see cref="StepFlags.Duplicate"/> (not applied), a jump past it is counted as a gap.
/// <para>
/// With a <see cref="PipelineOptions.SessionStore"/>: a row of a key that is not live is parked in the
/// <see cref="RestoreBuffer"/> until the key's stored state has loaded (<see cref="TakeKeysToLoad"/>,
/// <see cref="Loaded"/>), then goes out in a batch of waiting rows (<see cref="AssignWaiting"/>) with the state
/// attached for the layers to write; evicted keys' states, ended and dropped keys go to the store through a
/// <see cref="SessionTransfer"/> attached to the next item, and a key is not loaded again while the store has not
/// had its latest word; keys whose state changed are marked dirty per bucket for checkpoints.
/// </para>
/// <para>
/// Cost: each row is one hash lookup plus O(1) list moves; an eviction check pops expired keys off the
/// least-recently-used end of the <see cref="SlotTable"/>'s list and stops at the first live one, so it is
/// O(evicted), never a scan of live keys. Without a store nothing else is done.
/// </para>
/// </summary>
internal sealed class SessionLifecycle
{
    private readonly SlotTable _table = new();
    private readonly TimeProvider _clock;
    private readonly long _idleTimestamps;
    private readonly int _maxLiveKeys;
    private readonly Action<string, EvictionReason>? _onEvicted;
    private readonly Action<string, string>? _onRefused;
    private readonly ISessionStore? _store;
    private readonly LstmModel? _model;
    private readonly bool _evictToStore;
    private readonly DirtyKeys? _dirty;
    private readonly Dictionary<string, SessionTransfer> _inTransit = new(StringComparer.Ordinal);
    private readonly Queue<SessionTransfer> _transfers = new();
    private readonly List<RestoreBuffer.WaitingKey> _toLoad = [];
    private readonly List<RestoreBuffer.WaitingKey> _round = [];
    private readonly List<int> _checkpointSlots = [];
    private SessionTransfer? _transfer;
    private int[] _ended = new int[64];
    private long _tick;
    private long _created;
    private long _endedTotal;
    private long _evictedIdle;
    private long _evictedBound;
    private long _batches;
    private long _duplicates;
    private long _gaps;
    private long _evictedToStore;
    private long _restored;
    private long _refused;
    private long _loads;
    private long _loadFailures;

    /// <param name="options">The session settings, already validated (by <see cref="SessionSlotStage"/>).</param>
    /// <param name="model">The model the pipeline runs; needed with a <see cref="PipelineOptions.SessionStore"/>
    /// (stored states are checked against it and built for it).</param>
    public SessionLifecycle(PipelineOptions options, LstmModel? model = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _clock = options.TimeProvider;
        IdleTimeout = options.IdleTimeout;
        _idleTimestamps = options.IdleTimeout is { } idle ? ToTimestamps(idle, _clock.TimestampFrequency) : long.MaxValue;
        _maxLiveKeys = options.MaxLiveKeys ?? int.MaxValue;
        _onEvicted = options.OnKeyEvicted;
        _onRefused = options.OnStoredStateRefused;
        _store = options.SessionStore;
        if (_store is null) return;
        _model = model ?? throw new ArgumentException($"a pipeline with a {nameof(PipelineOptions.SessionStore)} needs its model", nameof(model));
        _evictToStore = options.Eviction == SessionEviction.Store;
        _dirty = new DirtyKeys(_store.BucketCount);
        Waiting = new RestoreBuffer(options.RestoreBufferRows, model.InputSize);
    }

    public TimeSpan? IdleTimeout { get; }

    public TimeProvider Clock => _clock;

    /// <summary>The session store, or null (keys live in memory only).</summary>
    public ISessionStore? Store => _store;

    /// <summary>Records waiting for their keys' stored state; null without a store.</summary>
    public RestoreBuffer? Waiting { get; }

    /// <summary>Called once the store has the changes of a transfer that named keys (set by the stage: it wakes it).</summary>
    public Action? TransferAccepted { get; set; }

    /// <summary>True when changes wait to be attached to the next item (<see cref="TakeTransfer"/>).</summary>
    public bool HasTransfer => _transfer is not null;

    public SessionCounts Counts =>
        new(_table.Count, _created, _endedTotal, _evictedIdle, _evictedBound, _batches, _table.HighWater)
        {
            Duplicates = _duplicates,
            Gaps = _gaps,
            EvictedToStore = _evictedToStore,
            Restored = _restored,
            RestoresRefused = _refused,
            RestoreLoads = _loads,
            RestoreFailures = _loadFailures,
            RestoreWaitingRows = Waiting?.Rows ?? 0,
        };

    /// <summary>
    /// When the least recently used key will have been idle for the timeout (a <see cref="TimeProvider"/>
    /// timestamp), or null when no key is live or keys never expire.
    /// </summary>
    public long? NextExpiry =>
        IdleTimeout is null || _table.Oldest < 0 ? null : SaturatingAdd(_table.LastUsed(_table.Oldest), _idleTimestamps);

    /// <summary>
    /// Gives every row of a data batch its slot; the batch is the next item of the stream. With a store, rows of
    /// keys that are not live (or still have rows waiting) are moved out of the batch into <see cref="Waiting"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A key is twice in the batch (the batch is released).</exception>
    public void Assign(StepBatch batch) => AssignRows(batch, Begin(), fromWaiting: false);

    /// <summary>
    /// Fills <paramref name="batch"/> (empty) with the oldest waiting row of each waiting key that can go now (its
    /// state has loaded, or it is live) and gives the rows their slots, with the loaded states attached for the
    /// layers. Returns the rows taken (0: none can go).
    /// </summary>
    public int AssignWaiting(StepBatch batch)
    {
        var waiting = Waiting!;
        var now = Begin();
        _round.Clear();
        foreach (var entry in waiting.Keys)
        {
            if (batch.IsFull) break;
            var slot = _table.Find(entry.Key);
            if (slot >= 0)
            {
                // Stamped with this tick before any row is assigned: a new key of this batch cannot evict it.
                _table.Touch(slot, _tick, now);
            }
            else if (entry.State != RestoreBuffer.LoadState.Ready)
            {
                // Evicted while rows still waited: its state is to be loaded again.
                if (entry.State == RestoreBuffer.LoadState.NeedsLoad && !_toLoad.Contains(entry)) _toLoad.Add(entry);
                continue;
            }

            waiting.TakeHead(entry, batch);
            _round.Add(entry);
        }

        if (_round.Count == 0) return 0;
        AssignRows(batch, now, fromWaiting: true);
        foreach (var entry in _round)
        {
            // A loaded state is applied once; a key evicted again before its last waiting row goes is loaded again.
            if (entry.State == RestoreBuffer.LoadState.Ready) entry.State = RestoreBuffer.LoadState.NeedsLoad;
            entry.Loaded = null;
        }

        waiting.RemoveEmpty();
        return _round.Count;
    }

    private void AssignRows(StepBatch batch, long now, bool fromWaiting)
    {
        _batches++;
        int rows = batch.Count, ended = 0, kept = 0;
        if (_ended.Length < rows) _ended = new int[Math.Max(rows, _ended.Length * 2)];
        var keys = batch.Keys;
        var flags = batch.Flags;
        var slots = batch.Slots;
        var waiting = fromWaiting ? null : Waiting;
        for (var r = 0; r < rows; r++)
        {
            var key = keys[r];
            if (waiting is { Rows: > 0 } && waiting.TryGet(key, out _))
            {
                waiting.Park(batch, r); // behind the key's waiting rows
                continue;
            }

            var slot = _table.Find(key);
            if (slot >= 0)
            {
                if (!fromWaiting && _table.LastSeen(slot) == _tick)
                {
                    var message = $"key '{key}' appears twice in one batch (row {r}); batches must hold distinct keys";
                    batch.Release();
                    throw new InvalidOperationException(message);
                }

                _table.Touch(slot, _tick, now);
            }
            else if (waiting is not null)
            {
                var entry = waiting.Park(batch, r);
                if (entry.Rows == 1) _toLoad.Add(entry);
                continue;
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

                if (fromWaiting && Waiting!.TryGet(key, out var loaded) && loaded.Loaded is { } state)
                {
                    Transfer.Restored.Add((slot, state));
                    _table.SetLastSeq(slot, state.LastSeq);
                    _restored++;
                }
                else
                {
                    flags[r] |= StepFlags.Reset;
                }
            }

            slots[r] = slot;
            var f = flags[r];
            if ((f & StepFlags.HasSeq) != 0 && !Applies(slot, batch.Seq[r]))
            {
                // A replay: not applied (the layers keep the key's state), not ended, answered as a duplicate.
                flags[r] = (f & ~(StepFlags.Reset | StepFlags.End)) | StepFlags.Duplicate;
                _duplicates++;
            }
            else
            {
                _dirty?.Mark(slot);
                if ((f & StepFlags.End) != 0) _ended[ended++] = slot;
            }

            if (kept != r) batch.MoveRow(r, kept);
            kept++;
        }

        if (kept != rows) batch.Truncate(kept);

        // Ended slots are freed after the whole batch, so no later row of this batch can be given them.
        for (var i = 0; i < ended; i++)
        {
            var slot = _ended[i];
            if (_store is not null) Forget(slot);
            _table.Release(slot);
        }

        _endedTotal += ended;
    }

    /// <summary>
    /// Whether a step with <paramref name="seq"/> applies to <paramref name="slot"/>'s state (it is above the last
    /// applied one, or none is known); records it as the last applied one when it does, counting a gap.
    /// </summary>
    private bool Applies(int slot, long seq)
    {
        if (_table.TryGetLastSeq(slot, out var last))
        {
            if (seq <= last) return false;
            if (seq != last + 1) _gaps++;
        }

        _table.SetLastSeq(slot, seq);
        return true;
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
            case StateRequestKind.Transfer:
                return;
            case StateRequestKind.DirtyBuckets:
                _dirty?.DirtyBuckets(request.Buckets);
                return;
            case StateRequestKind.Checkpoint:
                Checkpoint(request);
                return;
            case StateRequestKind.HandOff:
                HandOff(request);
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
                    _table.SetLastSeq(slot, request.States[i].LastSeq);
                    _dirty?.Mark(slot);
                }

                return;
            default:
                for (var i = 0; i < keys.Length; i++)
                {
                    var slot = _table.Find(keys[i]);
                    request.Slots[i] = slot;
                    if (slot < 0) continue;
                    if (request.Kind == StateRequestKind.Export)
                        request.States[i] = request.States[i] with { LastSeq = _table.LastSeq(slot) };
                    else if (request.Kind == StateRequestKind.Reset) _dirty?.Mark(slot);
                }

                if (!request.Remove) return;
                for (var i = 0; i < keys.Length; i++)
                {
                    var slot = request.Slots[i];
                    if (slot >= 0)
                    {
                        if (_store is not null) Forget(slot);
                        _table.Release(slot);
                        _endedTotal++;
                    }
                    else if (_store is not null && request.Kind == StateRequestKind.Drop)
                    {
                        // Dropping a key that is only stored deletes its stored state.
                        Transfer.Deleted.Add(keys[i]);
                        _inTransit[keys[i]] = Transfer;
                    }
                }

                return;
        }
    }

    /// <summary>True when <paramref name="request"/> names a key with records waiting for its state: it must wait for them.</summary>
    public bool MustWait(StateRequest request)
    {
        if (Waiting is not { Rows: > 0 } waiting) return false;
        foreach (var key in request.Keys)
        {
            if (waiting.TryGet(key, out _)) return true;
        }

        return false;
    }

    /// <summary>The changes to attach to the next item (null: none); the caller attaches them.</summary>
    public SessionTransfer? TakeTransfer()
    {
        var transfer = _transfer;
        _transfer = null;
        if (transfer is { HasChanges: true }) _transfers.Enqueue(transfer);
        return transfer;
    }

    /// <summary>
    /// The keys whose stored state is to be loaded now (null: none), marked as loading. A key whose latest state is
    /// still on its way to the store (evicted or deleted, not yet handed over) waits for that first.
    /// </summary>
    public string[]? TakeKeysToLoad()
    {
        if (_toLoad.Count == 0) return null;
        List<string>? keys = null;
        var kept = 0;
        for (var i = 0; i < _toLoad.Count; i++)
        {
            var entry = _toLoad[i];
            if (entry.State != RestoreBuffer.LoadState.NeedsLoad || entry.Rows == 0) continue;
            if (_inTransit.TryGetValue(entry.Key, out var transfer) && !transfer.Accepted)
            {
                _toLoad[kept++] = entry;
                continue;
            }

            entry.State = RestoreBuffer.LoadState.Loading;
            (keys ??= []).Add(entry.Key);
        }

        _toLoad.RemoveRange(kept, _toLoad.Count - kept);
        return keys?.ToArray();
    }

    /// <summary>
    /// The store answered a load of <paramref name="keys"/> with <paramref name="states"/>: each key's records can go,
    /// with its state (a state of another model, or one that does not fit, is not used: counted and reported).
    /// </summary>
    public void Loaded(string[] keys, IReadOnlyList<KeyState> states)
    {
        var waiting = Waiting!;
        _loads++;
        foreach (var state in states)
        {
            if (state?.Key is null || !waiting.TryGet(state.Key, out var entry) || entry.State != RestoreBuffer.LoadState.Loading) continue;
            if (state.ModelIdentity != _model!.Identity)
            {
                _refused++;
                _onRefused?.Invoke(state.Key, state.ModelIdentity ?? "");
                continue;
            }

            try
            {
                state.ValidateFor(_model);
                entry.Loaded = state;
            }
            catch (ArgumentException)
            {
                _refused++;
                _onRefused?.Invoke(state.Key, state.ModelIdentity);
            }
        }

        foreach (var key in keys)
        {
            if (waiting.TryGet(key, out var entry) && entry.State == RestoreBuffer.LoadState.Loading)
                entry.State = RestoreBuffer.LoadState.Ready;
        }
    }

    /// <summary>A load of stored state failed (it is retried with the same keys, which stay loading).</summary>
    public void LoadFailed() => _loadFailures++;

    /// <summary>Evicts every key idle for the timeout as of now (the timer's check while no data flows).</summary>
    public void EvictIdle() => EvictIdle(_clock.GetTimestamp());

    private SessionTransfer Transfer => _transfer ??= new SessionTransfer(TransferAccepted);

    /// <summary>
    /// Exports every live key of the request's bucket and marks them clean: the store writes the bucket's whole
    /// state at a checkpoint, and takes its live keys from here instead of keeping a copy of them.
    /// </summary>
    private void Checkpoint(StateRequest request)
    {
        if (_dirty is null)
        {
            request.Error = "the pipeline has no session store to checkpoint to";
            return;
        }

        _checkpointSlots.Clear();
        var changed = _dirty.TakeLive(request.Bucket, _checkpointSlots);
        var count = _checkpointSlots.Count;
        var keys = new string[count];
        var slots = new int[count];
        var states = new KeyState[count];
        var layers = _model!.Layers.Count;
        for (var i = 0; i < count; i++)
        {
            var slot = _checkpointSlots[i];
            keys[i] = _table.KeyAt(slot)!;
            slots[i] = slot;
            states[i] = new KeyState(_model.Identity, keys[i], new float[layers][], new float[layers][]) { LastSeq = _table.LastSeq(slot) };
        }

        request.SetExport(keys, slots, states, changed);
    }

    /// <summary>
    /// Exports every live key of the request's bucket as <see cref="Checkpoint"/> does, then frees them all (the layers
    /// copy the exported rows before any later item can reuse a slot).
    /// </summary>
    private void HandOff(StateRequest request)
    {
        Checkpoint(request);
        if (request.Error is not null) return;
        foreach (var slot in _checkpointSlots)
        {
            _dirty!.Release(slot);
            _table.Release(slot);
        }

        request.Dropped = _checkpointSlots.Count;
    }

    /// <summary>Starts the next stream item: a new tick, and the idle keys evicted as of now.</summary>
    private long Begin()
    {
        _tick++;
        while (_transfers.TryPeek(out var done) && done.Accepted)
        {
            _transfers.Dequeue();
            foreach (var (_, state) in done.Evicted) ForgetTransit(state.Key, done);
            foreach (var key in done.Deleted) ForgetTransit(key, done);
        }

        var now = _clock.GetTimestamp();
        EvictIdle(now);
        return now;
    }

    private void ForgetTransit(string key, SessionTransfer transfer)
    {
        if (_inTransit.TryGetValue(key, out var latest) && ReferenceEquals(latest, transfer)) _inTransit.Remove(key);
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
        var slot = _table.Add(key, _tick, now);
        _dirty?.Assign(slot, key);
        return slot;
    }

    private void Evict(int slot, EvictionReason reason)
    {
        var key = _table.KeyAt(slot)!;
        if (_store is not null && _evictToStore)
        {
            var layers = _model!.Layers.Count;
            var state = new KeyState(_model.Identity, key, new float[layers][], new float[layers][]) { LastSeq = _table.LastSeq(slot) };
            Transfer.Evicted.Add((slot, state));
            _inTransit[key] = Transfer;
            _dirty!.Release(slot);
            _evictedToStore++;
        }
        else if (_store is not null)
        {
            Forget(slot);
        }

        _table.Release(slot);
        _onEvicted?.Invoke(key, reason);
    }

    /// <summary>The key in <paramref name="slot"/> is gone for good: its stored state is to be deleted.</summary>
    private void Forget(int slot)
    {
        var key = _table.KeyAt(slot)!;
        Transfer.Deleted.Add(key);
        _inTransit[key] = Transfer;
        _dirty!.Release(slot);
    }

    private static long ToTimestamps(TimeSpan span, long frequency)
    {
        var value = (Int128)span.Ticks * frequency / TimeSpan.TicksPerSecond;
        return value >= long.MaxValue ? long.MaxValue : Math.Max(1, (long)value);
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
