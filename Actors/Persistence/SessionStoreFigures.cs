namespace LstmStream.Actors.Persistence;

/// <summary>
/// The session store's figures, written by the store and the checkpoint coordinator and read by the service's metrics
/// and <c>/health</c> (thread-safe). <see cref="LoadRecorded"/> and <see cref="CheckpointRecorded"/> are told every load
/// and checkpoint (for histograms); they must be cheap and must not throw.
/// </summary>
public sealed class SessionStoreFigures
{
    private long _checkpoints;
    private long _checkpointFailures;
    private long _keysCheckpointed;
    private long _bucketsWritten;
    private long _bytesWritten;
    private long _loads;
    private long _keysLoaded;
    private long _loadFailures;
    private volatile bool _degraded;

    /// <summary>Checkpoints that wrote every bucket they covered.</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Checkpoints of which a bucket could not be written (retried).</summary>
    public long CheckpointFailures => Interlocked.Read(ref _checkpointFailures);

    /// <summary>Keys exported from the pipeline by checkpoints.</summary>
    public long KeysCheckpointed => Interlocked.Read(ref _keysCheckpointed);

    /// <summary>Bucket snapshots written.</summary>
    public long BucketsWritten => Interlocked.Read(ref _bucketsWritten);

    /// <summary>Bytes of the bucket snapshots written.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Load requests answered (restores of keys that were not live).</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Stored states found by loads.</summary>
    public long KeysLoaded => Interlocked.Read(ref _keysLoaded);

    /// <summary>Load requests the store could not answer (the pipeline retries them).</summary>
    public long LoadFailures => Interlocked.Read(ref _loadFailures);

    /// <summary>Store errors of every kind: failed loads and failed bucket writes.</summary>
    public long StoreErrors => LoadFailures + CheckpointFailures;

    /// <summary>True from a failed checkpoint until one succeeds: serving goes on, but the store is behind.</summary>
    public bool IsDegraded => _degraded;

    /// <summary>Told each load's latency and the number of stored states it found.</summary>
    public Action<TimeSpan, int>? LoadRecorded { get; set; }

    /// <summary>Told each checkpoint's duration and whether every bucket was written.</summary>
    public Action<TimeSpan, bool>? CheckpointRecorded { get; set; }

    internal void Load(TimeSpan latency, int found)
    {
        Interlocked.Increment(ref _loads);
        Interlocked.Add(ref _keysLoaded, found);
        LoadRecorded?.Invoke(latency, found);
    }

    internal void LoadFailed() => Interlocked.Increment(ref _loadFailures);

    internal void BucketWritten(long bytes)
    {
        Interlocked.Increment(ref _bucketsWritten);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

    internal void Checkpoint(TimeSpan duration, int keys, bool succeeded)
    {
        Interlocked.Add(ref _keysCheckpointed, keys);
        Interlocked.Increment(ref succeeded ? ref _checkpoints : ref _checkpointFailures);
        _degraded = !succeeded;
        CheckpointRecorded?.Invoke(duration, succeeded);
    }
}
