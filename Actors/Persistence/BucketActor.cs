using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using LstmStream.Actors.Cluster;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Owns the durable state of one bucket of keys (<see cref="KeyBuckets.BucketOf"/>), kept as one snapshot
/// (<see cref="BucketSnapshot"/>: every stored key's <see cref="KeyState"/>) per checkpoint. Started on demand by the
/// <see cref="BucketRegionActor"/>, it recovers the bucket's latest snapshot, answers loads, keeps the changes it is
/// told (<see cref="ApplyChanges"/>) and writes a new snapshot when asked (<see cref="SaveBucket"/>); the write removes
/// the older ones (<see cref="BucketSnapshotStore"/>: in the same statement, so no delete follows it). Idle for <c>idleAfter</c> with nothing unsaved, it asks its region to stop it,
/// so memory holds only the buckets in use.
/// <para>
/// No second copy of live keys: the states held in memory are those of keys not live in the pipeline (evicted, not
/// yet restored) and those not yet in a written snapshot. Each save is preceded by the pipeline's export of every key
/// of the bucket live in it (<see cref="ApplyChanges.Live"/>); once a snapshot holding them is written, their states
/// are forgotten and only their names kept. Should one of them be needed without a new export (a load after the
/// pipeline that held it stopped, a save asked for directly, a hand-off), the bucket reads its latest snapshot back
/// from the store first (their states there are their latest written ones).
/// </para>
/// <para>
/// In cluster mode the bucket is a sharded entity (<see cref="BucketShards"/>) living on the node that owns it: it also
/// hands the <see cref="RoutedRecords"/> of its keys to that node's pipeline (<see cref="IBucketPipeline"/>), stays while its
/// shard stays (no idle stop) and, when its shard moves (<see cref="HandOffBucket"/>), has the pipeline export every live key of
/// the bucket to it and free them, writes what is unsaved and stops.
/// </para>
/// <para>
/// Snapshots only, no events: a failed write (disk full, database down) is answered to the asker and the changes stay
/// here for the next attempt (a failed event write would stop the actor and lose them). The snapshot's sequence number
/// is the bucket's checkpoint number, counted here and recovered from the latest snapshot.
/// </para>
/// </summary>
public sealed class BucketActor : ReceivePersistentActor, IWithTimers, IWithUnboundedStash
{
    /// <summary>
    /// How long a snapshot write may go unanswered before it counts as failed: a snapshot store that never answers (its
    /// actor restarted under the write, as Akka's circuit breaker in its half-open state can make it) must not hold the
    /// bucket's later checkpoints forever.
    /// </summary>
    public static readonly TimeSpan DefaultSaveTimeout = TimeSpan.FromSeconds(30);

    private readonly int _bucket;
    private readonly TimeSpan _saveTimeout;
    private long _attempt;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Dictionary<string, KeyState> _stored = new(StringComparer.Ordinal);
    // Keys live in the pipeline whose states are in the latest written snapshot and not held here.
    private readonly HashSet<string> _live = new(StringComparer.Ordinal);
    // The pipeline's live exports since the last save started; those being written.
    private List<KeyState> _exportedLive = [];
    private List<KeyState> _savingLive = [];
    private List<IActorRef>? _saveAfterRead;
    private Exception? _readFailure;
    private long _checkpoint;
    private bool _dirty;
    private long _saving = -1;
    private BucketSnapshot? _savingSnapshot;
    private List<IActorRef> _waitingForThisSave = [];
    private List<IActorRef> _waitingForNextSave = [];
    private readonly IBucketPipeline? _pipeline;
    private readonly BucketHost? _host;
    private bool _handingOff;
    private bool _released;
    private bool _handedOff;
    private long _handOffStarted;
    private (int Freed, int Exported) _releasedKeys;

    /// <param name="host">Cluster mode: this node's pipeline, entity directory and figures; null for the single-node store.</param>
    /// <param name="saveTimeout">How long a snapshot write may go unanswered (<see cref="DefaultSaveTimeout"/> when null).</param>
    public BucketActor(int bucket, TimeSpan idleAfter, BucketHost? host = null, TimeSpan? saveTimeout = null)
    {
        _saveTimeout = saveTimeout ?? DefaultSaveTimeout;
        _host = host;
        _pipeline = host?.Pipeline;
        _bucket = bucket;
        PersistenceId = PersistenceIdOf(bucket);

        Recover<SnapshotOffer>(offer =>
        {
            _checkpoint = offer.Metadata.SequenceNr;
            _attempt = _checkpoint;
            var snapshot = (BucketSnapshot)offer.Snapshot;
            _stored = new Dictionary<string, KeyState>(snapshot.States.Count, StringComparer.Ordinal);
            foreach (var state in snapshot.States) _stored[state.Key] = state;
        });
        Recover<RecoveryCompleted>(_ =>
        {
            if (_host is not null) return;
            if (idleAfter > TimeSpan.Zero) SetReceiveTimeout(idleAfter);
            Context.Parent.Tell(new BucketReady(_bucket));
        });

        Command<LoadKeys>(m =>
        {
            if (NeedsReadBack(m.Keys)) return;
            var found = new List<KeyState>(m.Keys.Count);
            foreach (var key in m.Keys)
            {
                if (_stored.TryGetValue(key, out var state)) found.Add(state);
            }

            Sender.Tell(new LoadedKeys(_bucket, found));
        });
        Command<ApplyChanges>(Apply);
        Command<GetStoredKey>(m =>
        {
            if (!NeedsReadBack([m.Key])) Sender.Tell(new StoredKey(m.Key, _stored.GetValueOrDefault(m.Key)));
        });
        Command<GetBucketMemory>(_ => Sender.Tell(new BucketMemory(_bucket, _stored.Count, _live.Count)));
        Command<SaveBucket>(_ =>
        {
            if (_saving >= 0) _waitingForNextSave.Add(Sender);
            else StartSave([Sender]);
        });
        SaveReplies();
        // The marker a failed read-back leaves behind the requests it held: they have been answered.
        Command<LoadSnapshotFailed>(_ => _readFailure = null);
        Command<ReceiveTimeout>(_ =>
        {
            if (!_dirty && _saving < 0) Context.Parent.Tell(new BucketIdle(_bucket));
        });
        if (host is not null)
        {
            Command<HandOffBucket>(_ => BeginHandOff());
            Command<PipelineReleased>(ReleasedByPipeline);
        }

        Command<StopIfIdle>(_ =>
        {
            if (_dirty || _saving >= 0) Context.Parent.Tell(new BucketBusy(_bucket));
            else Context.Stop(Self);
        });
    }

    public override string PersistenceId { get; }

    /// <summary>The persistence id of <paramref name="bucket"/>'s snapshots.</summary>
    public static string PersistenceIdOf(int bucket) => $"lstmstream-bucket-{bucket}";

    public static Props Props(int bucket, TimeSpan idleAfter, TimeSpan? saveTimeout = null) =>
        Akka.Actor.Props.Create(() => new BucketActor(bucket, idleAfter, null, saveTimeout));

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The bucket as a sharded entity (cluster mode) on the node of <paramref name="host"/>.</summary>
    public static Props ShardedProps(int bucket, BucketHost host) =>
        Akka.Actor.Props.Create(() => new BucketActor(bucket, TimeSpan.Zero, host, null));

    protected override void PreStart()
    {
        base.PreStart();
        if (_host is null) return;
        _host.Entities.Register(_bucket, Self);
        _host.Pipeline.BucketArrived(_bucket);
        _host.Figures.TakenOver(_bucket);
    }

    protected override void PostStop()
    {
        if (_host is not null)
        {
            if (_handingOff && !_handedOff)
            {
                _log.Error("Bucket {0}: stopped before its hand-off wrote its keys", _bucket);
                _host.Figures.HandOffUnfinished(_bucket);
            }

            _host.Pipeline.BucketLeft(_bucket);
            _host.Entities.Unregister(_bucket, Self);
        }

        base.PostStop();
    }

    /// <summary>Cluster mode: the bucket's records go into this node's pipeline, in the order they came.</summary>
    private void Feed(RoutedRecords records)
    {
        if (_handingOff)
        {
            // Not expected (the shard delivers everything before the hand-off stop message), but never dropped: the shard
            // region holds them until the bucket's next owner is known.
            _log.Warning("Bucket {0}: {1} record(s) arrived while it is handed off; passed on to its next owner", _bucket, records.Count);
            Akka.Cluster.Sharding.ClusterSharding.Get(Context.System).ShardRegion(BucketShards.TypeName).Tell(records, Sender);
            return;
        }

        try
        {
            _pipeline!.Feed(records);
        }
        catch (InvalidOperationException e)
        {
            _log.Error("Bucket {0}: {1} routed record(s) not stepped: {2}", _bucket, records.Count, e.Message);
        }
    }

    /// <summary>
    /// The shard moves (rebalance, leave): the pipeline gives the bucket's keys back (exported to this actor, ordered after
    /// every record fed here), this actor writes what is unsaved and stops; the shard region holds the bucket's later
    /// records until it has stopped and then sends them to the next owner, which restores the keys from that snapshot.
    /// </summary>
    private void BeginHandOff()
    {
        if (_handingOff)
        {
            // Again after a failed read-back of the hand-off's save: try the save once more.
            if (_released && _saving < 0 && _saveAfterRead is null) FinishHandOff();
            return;
        }

        _handingOff = true;
        _handOffStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        var self = Self;
        _pipeline!.ReleaseAsync(_bucket).ContinueWith(
            t => self.Tell(t.IsCompletedSuccessfully
                ? new PipelineReleased(t.Result.Exported, t.Result.Freed, null)
                : new PipelineReleased(0, 0, t.Exception?.GetBaseException())),
            TaskScheduler.Default);
    }

    private void ReleasedByPipeline(PipelineReleased released)
    {
        _released = true;
        _releasedKeys = (released.Freed, released.Exported);
        if (released.Failure is not null)
            _log.Error("Bucket {0}: the pipeline could not hand its keys over ({1}); what the store holds is handed off", _bucket, released.Failure.Message);
        if (_saving >= 0 || _saveAfterRead is not null) return;
        FinishHandOff();
    }

    /// <summary>Writes what is unsaved (reading the live keys' states back first when needed), else stops.</summary>
    private void FinishHandOff()
    {
        if (_dirty) StartSave([]);
        else StopHandedOff();
    }

    private void StopHandedOff()
    {
        _handedOff = true;
        _host!.Figures.HandedOff(new HandOffFigures.HandOff(_bucket, System.Diagnostics.Stopwatch.GetElapsedTime(_handOffStarted), _releasedKeys.Freed,
            _releasedKeys.Exported, _stored.Count + _live.Count));
        Context.Stop(Self);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        if (_host is null) Context.Parent.Tell(new BucketRecoveryFailed(_bucket, reason));
        base.OnRecoveryFailure(reason, message);
    }

    /// <summary>The answers of the snapshot store to writes and deletes, and routed records (cluster mode), taken in every behaviour.</summary>
    private void SaveReplies()
    {
        Command<SaveSnapshotSuccess>(m => m.Metadata.SequenceNr == _saving, m => SaveCompleted(m.Metadata));
        Command<SaveSnapshotFailure>(m => m.Metadata.SequenceNr == _saving, m => SaveFailed(m.Cause));
        Command<SaveUnanswered>(m => m.Attempt == _saving, _ =>
            SaveFailed(new TimeoutException($"the snapshot store did not answer within {_saveTimeout.TotalSeconds:0.#} s")));
        // A write answered after it was given up: its snapshot may be stored (with a lower sequence number than any later
        // attempt: never taken for the latest), and the next attempt's write removes it.
        Command<SaveSnapshotSuccess>(_ => { });
        Command<SaveSnapshotFailure>(_ => { });
        Command<SaveUnanswered>(_ => { });
        if (_host is not null) Command<RoutedRecords>(Feed);
    }

    private void Apply(ApplyChanges m)
    {
        foreach (var state in m.Save)
        {
            _stored[state.Key] = state;
            _live.Remove(state.Key);
        }

        foreach (var key in m.Delete)
        {
            _stored.Remove(key);
            _live.Remove(key);
        }

        if (m.Live)
        {
            _exportedLive.AddRange(m.Save);
            if (m.Changed > 0 || m.Delete.Count > 0) _dirty = true;
        }
        else if (m.Save.Count > 0 || m.Delete.Count > 0)
        {
            _dirty = true;
        }
    }

    /// <summary>
    /// True when one of <paramref name="keys"/> is live in the pipeline with its state not held here: the current
    /// message is then held until the latest snapshot has been read back (or answered with the read's failure).
    /// </summary>
    private bool NeedsReadBack(IReadOnlyList<string> keys)
    {
        if (_live.Count == 0) return false;
        var needed = false;
        foreach (var key in keys) needed |= _live.Contains(key);
        if (!needed) return false;
        if (_readFailure is not null)
        {
            Sender.Tell(new Status.Failure(ReadBackFailure(_readFailure)));
            return true;
        }

        Stash.Stash();
        ReadBack();
        return true;
    }

    /// <summary>Reads the latest snapshot to hold the states of the live keys again; other requests wait, in order.</summary>
    private void ReadBack()
    {
        SnapshotStore.Tell(new LoadSnapshot(PersistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), Self);
        BecomeStacked(() =>
        {
            SaveReplies();
            Command<LoadSnapshotResult>(m =>
            {
                var found = 0;
                if (m.Snapshot?.Snapshot is BucketSnapshot snapshot)
                {
                    foreach (var state in snapshot.States)
                    {
                        if (!_live.Remove(state.Key)) continue;
                        _stored[state.Key] = state;
                        found++;
                    }
                }

                if (_live.Count > 0)
                    _log.Error("Bucket {0}: {1} live key(s) were not in the latest snapshot read back (the snapshot was removed from the store?)",
                        _bucket, _live.Count);
                _live.Clear();
                _log.Debug("Bucket {0}: read {1} live key(s) back from the latest snapshot", _bucket, found);
                UnbecomeStacked();
                Stash.UnstashAll();
                if (_saveAfterRead is { } waiting)
                {
                    _saveAfterRead = null;
                    StartSave(waiting);
                }
            });
            Command<LoadSnapshotFailed>(m =>
            {
                _log.Warning("Bucket {0}: the latest snapshot could not be read back: {1}", _bucket, m.Cause.Message);
                if (_saveAfterRead is { } waiting)
                {
                    _saveAfterRead = null;
                    FailSave(waiting, m.Cause);
                    if (_handingOff) Timers.StartSingleTimer(nameof(HandOffBucket), HandOffBucket.Instance, TimeSpan.FromSeconds(1));
                }

                // The requests held are answered with the failure; this message, stashed behind them, ends that.
                _readFailure = m.Cause;
                Stash.Stash();
                UnbecomeStacked();
                Stash.UnstashAll();
            });
            CommandAny(_ => Stash.Stash());
        });
    }

    private static SessionStoreException ReadBackFailure(Exception cause) =>
        new($"the latest snapshot could not be read: {cause.Message}", cause);

    private void StartSave(List<IActorRef> waiting)
    {
        if (!_dirty)
        {
            // Nothing changed: the exported live keys' states are those of the latest snapshot.
            ForgetLive(_exportedLive);
            _exportedLive = [];
            foreach (var asker in waiting) asker.Tell(new BucketSaved(_bucket, false, _stored.Count + _live.Count, 0));
            return;
        }

        if (_live.Count > 0)
        {
            // Live keys not exported since the last save: their states are read back before the bucket is written whole.
            if (_readFailure is not null)
            {
                FailSave(waiting, _readFailure);
                return;
            }

            _saveAfterRead = waiting;
            ReadBack();
            return;
        }

        _waitingForThisSave = waiting;
        _dirty = false;
        _savingLive = _exportedLive;
        _exportedLive = [];
        // Every attempt its own sequence number, so an answer to an attempt given up is never taken for a later one's.
        _saving = _attempt = Math.Max(_attempt, _checkpoint) + 1;
        _savingSnapshot = new BucketSnapshot(_stored.Values.ToArray());
        SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(PersistenceId, _saving, DateTime.UtcNow), _savingSnapshot), Self);
        Timers.StartSingleTimer(nameof(SaveUnanswered), new SaveUnanswered(_saving), _saveTimeout);
    }

    /// <summary>
    /// The live keys of <paramref name="exported"/> are in the latest written snapshot: their states are forgotten here
    /// (unless a later change replaced them), their names kept.
    /// </summary>
    private void ForgetLive(List<KeyState> exported)
    {
        foreach (var state in exported)
        {
            if (!_stored.TryGetValue(state.Key, out var held) || !ReferenceEquals(held, state)) continue;
            _stored.Remove(state.Key);
            _live.Add(state.Key);
        }

        // A bucket that held many keys gives the memory of its table back.
        if (_stored.Count < _stored.EnsureCapacity(0) / 4) _stored.TrimExcess();
    }

    private void SaveCompleted(SnapshotMetadata written)
    {
        _checkpoint = written.SequenceNr;
        var saved = new BucketSaved(_bucket, true, _savingSnapshot!.States.Count, SessionStateSerializer.SizeOf(_savingSnapshot));
        ForgetLive(_savingLive);
        _savingLive = [];
        foreach (var asker in _waitingForThisSave) asker.Tell(saved);
        NextSave();
    }

    private void SaveFailed(Exception cause)
    {
        _dirty = true;
        // The exported live keys stay held until a snapshot with them is written (or the next export replaces them).
        _savingLive.AddRange(_exportedLive);
        _exportedLive = _savingLive;
        _savingLive = [];
        FailSave(_waitingForThisSave, cause);
        NextSave();
    }

    private void FailSave(List<IActorRef> waiting, Exception cause)
    {
        var failure = new Status.Failure(new SessionStoreException($"bucket {_bucket}: the snapshot could not be written: {cause.Message}", cause));
        foreach (var asker in waiting) asker.Tell(failure);
    }

    private void NextSave()
    {
        Timers.Cancel(nameof(SaveUnanswered));
        _saving = -1;
        _savingSnapshot = null;
        _waitingForThisSave = [];
        if (_waitingForNextSave.Count > 0)
        {
            var waiting = _waitingForNextSave;
            _waitingForNextSave = [];
            StartSave(waiting);
            if (_saving >= 0 || _saveAfterRead is not null) return;
        }

        // Handing off: stop once the pipeline gave the keys back and what was unsaved is written (a failed write is tried
        // again until the shard's hand-off times out).
        if (!_handingOff || !_released) return;
        FinishHandOff();
    }

    /// <summary>The pipeline gave the bucket's keys back for the hand-off (or could not: <paramref name="Failure"/>).</summary>
    private sealed record PipelineReleased(int Exported, int Freed, Exception? Failure);

    /// <summary>The write of attempt <paramref name="Attempt"/> went unanswered for the save timeout.</summary>
    private sealed record SaveUnanswered(long Attempt);
}
