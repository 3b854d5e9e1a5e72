using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>
/// Stands in for the running pipeline: keys "stepped" here (<see cref="Step"/>) are live and dirty in their bucket
/// until a checkpoint exports the bucket to the store, as the pipeline's CheckpointAsync does: every live key of the
/// bucket as one live export counting the changed ones (Accept, then complete).
/// </summary>
internal sealed class FakeCheckpointSource(PersistentSessionStore store) : ICheckpointSource
{
    private readonly object _gate = new();
    private readonly Dictionary<int, Dictionary<string, KeyState>> _live = [];
    private readonly Dictionary<int, HashSet<string>> _dirty = [];
    private readonly List<int> _exported = [];

    /// <summary>The buckets exported so far, in order.</summary>
    public IReadOnlyList<int> Exported
    {
        get
        {
            lock (_gate) return _exported.ToArray();
        }
    }

    public void Step(KeyState state)
    {
        var bucket = KeyBuckets.BucketOf(state.Key, store.BucketCount);
        lock (_gate)
        {
            if (!_live.TryGetValue(bucket, out var keys)) _live[bucket] = keys = new Dictionary<string, KeyState>(StringComparer.Ordinal);
            keys[state.Key] = state;
            if (!_dirty.TryGetValue(bucket, out var dirty)) _dirty[bucket] = dirty = new HashSet<string>(StringComparer.Ordinal);
            dirty.Add(state.Key);
        }
    }

    public Task<IReadOnlyList<int>> DirtyBucketsAsync()
    {
        lock (_gate) return Task.FromResult<IReadOnlyList<int>>(_dirty.Where(d => d.Value.Count > 0).Select(d => d.Key).Order().ToArray());
    }

    public Task<int> CheckpointAsync(int bucket)
    {
        KeyState[] states;
        int changed;
        lock (_gate)
        {
            _exported.Add(bucket);
            states = _live.TryGetValue(bucket, out var keys) ? keys.Values.ToArray() : [];
            changed = _dirty.Remove(bucket, out var dirty) ? dirty.Count : 0;
        }

        store.Accept(new SessionChanges(states, [], bucket) { LiveBucket = true, Changed = changed });
        return Task.FromResult(changed);
    }
}
