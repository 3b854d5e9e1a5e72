using System.Diagnostics;
using Akka.Actor;
using LstmStream.Actors.Cluster;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// The pipeline's <see cref="ISessionStore"/> over Akka.Persistence: keys are kept per bucket
/// (<see cref="KeyBuckets.BucketOf"/>) by <see cref="BucketActor"/>s behind a <see cref="BucketRegionActor"/>.
/// <see cref="LoadAsync"/> asks the keys' buckets; <see cref="Accept"/> tells them the changes without waiting (they
/// stay with the bucket until its next save) and remembers the buckets to save; <see cref="SaveBucketAsync"/> writes
/// one bucket's snapshot (the checkpoint coordinator calls it bucket by bucket).
/// </summary>
public sealed class PersistentSessionStore : ISessionStore
{
    private readonly IActorRef _region;
    private readonly TimeSpan _timeout;
    private readonly SessionStoreFigures _figures;
    private readonly int[] _pending;
    private readonly LocalBuckets? _local;

    private PersistentSessionStore(IActorRef region, int bucketCount, TimeSpan timeout, SessionStoreFigures figures, LocalBuckets? local)
    {
        _region = region;
        _local = local;
        BucketCount = bucketCount;
        _timeout = timeout;
        _figures = figures;
        _pending = new int[bucketCount];
    }

    public int BucketCount { get; }

    /// <summary>The store's figures (loads, checkpoints, errors, health).</summary>
    public SessionStoreFigures Figures => _figures;

    /// <summary>
    /// Opens the store behind <paramref name="region"/>: checks (on first use records) its bucket count. Throws a
    /// <see cref="SessionStoreException"/> when the store was created with another count or cannot be read.
    /// </summary>
    /// <param name="region">Where the buckets' messages go: the <see cref="BucketRegionActor"/>, or in cluster mode the buckets' shard region.</param>
    /// <param name="timeout">How long one request to the store may take before it counts as failed.</param>
    /// <param name="countRegion">The <see cref="BucketRegionActor"/> that checks the bucket count when <paramref name="region"/> is a shard region.</param>
    /// <param name="bucketSetting">Where <paramref name="bucketCount"/> comes from, named when the store refuses it (default: serve's setting).</param>
    /// <param name="local">
    /// Cluster mode: this node's bucket entities; the pipeline's loads, changes and writes go straight to the bucket's entity
    /// here when it has one (see <see cref="LocalBuckets"/>), else through <paramref name="region"/>.
    /// </param>
    public static async Task<PersistentSessionStore> OpenAsync(IActorRef region, int bucketCount, TimeSpan timeout, SessionStoreFigures figures,
        CancellationToken cancellationToken, IActorRef? countRegion = null, string bucketSetting = CheckBucketCount.ServeSetting, LocalBuckets? local = null)
    {
        ArgumentNullException.ThrowIfNull(region);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketCount);
        ArgumentNullException.ThrowIfNull(figures);
        try
        {
            await (countRegion ?? region).Ask<BucketCountConfirmed>(new CheckBucketCount(bucketCount, bucketSetting), timeout, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            throw new SessionStoreException($"the session store did not answer within {timeout.TotalSeconds:0.#} s", e);
        }

        return new PersistentSessionStore(region, bucketCount, timeout, figures, local);
    }

    public async Task<IReadOnlyList<KeyState>> LoadAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0) return [];
        var started = Stopwatch.GetTimestamp();
        try
        {
            // One cancellation registration per load, not one per bucket asked: a registration's node stays in the token's
            // free list after it is released, so the session stage's token kept one per bucket ask of its largest burst
            // (5,314 nodes, 425 KB, after 10,000 new keys' first records asked ~170 buckets per 256-row batch).
            var asks = new List<Task<LoadedKeys>>();
            foreach (var (bucket, bucketKeys) in GroupByBucket(keys, k => k))
                asks.Add(BucketOwner(bucket).Ask<LoadedKeys>(new LoadKeys(bucket, bucketKeys), _timeout));
            var loaded = await Task.WhenAll(asks).WaitAsync(cancellationToken).ConfigureAwait(false);
            var states = loaded.Length == 1 ? loaded[0].States : loaded.SelectMany(l => l.States).ToArray();
            _figures.Load(Stopwatch.GetElapsedTime(started), states.Count);
            return states;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _figures.LoadFailed();
            throw;
        }
    }

    public void Accept(SessionChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes is { LiveBucket: true, CheckpointBucket: { } live })
        {
            // One bucket's live keys, saved by the checkpoint that asked for them (or handed off): no pending mark. Like every
            // message of this pipeline, straight to the bucket's entity when it lives here: through the shard region the export
            // could come after the save that must hold it, or, with the shard being handed off, reach the next owner after it
            // has restored the keys from the older snapshot (a lost update).
            BucketOwner(live).Tell(new ApplyChanges(live, changes.Save, changes.Delete) { Live = true, Changed = changes.ChangedCount });
            return;
        }

        var saves = GroupByBucket(changes.Save, s => s.Key);
        var deletes = GroupByBucket(changes.Delete, k => k);
        foreach (var bucket in saves.Keys.Union(deletes.Keys))
        {
            BucketOwner(bucket).Tell(new ApplyChanges(bucket, saves.GetValueOrDefault(bucket) ?? [], deletes.GetValueOrDefault(bucket) ?? []));
            Volatile.Write(ref _pending[bucket], 1);
        }
    }

    /// <summary>The buckets told changes since the last call (each once, ascending); they need a save.</summary>
    public IReadOnlyList<int> TakePendingBuckets()
    {
        var taken = new List<int>();
        for (var bucket = 0; bucket < _pending.Length; bucket++)
        {
            if (Volatile.Read(ref _pending[bucket]) != 0 && Interlocked.Exchange(ref _pending[bucket], 0) != 0) taken.Add(bucket);
        }

        return taken;
    }

    /// <summary>
    /// Writes <paramref name="bucket"/>'s snapshot when it changed (every change told before this call is in it).
    /// Throws a <see cref="SessionStoreException"/> when it could not be written; the changes stay for the next attempt.
    /// </summary>
    public async Task<BucketSaved> SaveBucketAsync(int bucket, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bucket);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bucket, BucketCount);
        try
        {
            var saved = await BucketOwner(bucket).Ask<BucketSaved>(new SaveBucket(bucket), _timeout, cancellationToken).ConfigureAwait(false);
            if (saved.Written) _figures.BucketWritten(saved.Bytes);
            return saved;
        }
        catch (AskTimeoutException e)
        {
            throw new SessionStoreException($"bucket {bucket}: the store did not confirm the write within {_timeout.TotalSeconds:0.#} s", e);
        }
    }

    /// <summary>The stored state of <paramref name="key"/> (changes not yet written included), or null.</summary>
    public async Task<KeyState?> GetStoredAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var bucket = KeyBuckets.BucketOf(key, BucketCount);
        var stored = await BucketOwner(bucket).Ask<StoredKey>(new GetStoredKey(bucket, key), _timeout, cancellationToken).ConfigureAwait(false);
        return stored.State;
    }

    /// <summary>Where <paramref name="bucket"/>'s messages go: its entity on this node (cluster mode) or the region.</summary>
    private IActorRef BucketOwner(int bucket) => _local?.Find(bucket) ?? _region;

    private Dictionary<int, List<TItem>> GroupByBucket<TItem>(IReadOnlyList<TItem> items, Func<TItem, string> keyOf)
    {
        var groups = new Dictionary<int, List<TItem>>();
        foreach (var item in items)
        {
            var bucket = KeyBuckets.BucketOf(keyOf(item), BucketCount);
            if (!groups.TryGetValue(bucket, out var group)) groups[bucket] = group = [];
            group.Add(item);
        }

        return groups;
    }
}
