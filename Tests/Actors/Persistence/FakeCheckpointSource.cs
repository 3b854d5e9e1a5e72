using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>
/// Stands in for the running pipeline: keys "stepped" here (<see cref="Step"/>) are dirty in their bucket until a
/// checkpoint exports them to the store, as the pipeline's CheckpointAsync does (Accept, then complete).
/// </summary>
internal sealed class FakeCheckpointSource(PersistentSessionStore store) : ICheckpointSource
{
    private readonly object _gate = new();
    private readonly Dictionary<int, Dictionary<string, KeyState>> _dirty = [];
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
            if (!_dirty.TryGetValue(bucket, out var keys)) _dirty[bucket] = keys = new Dictionary<string, KeyState>(StringComparer.Ordinal);
            keys[state.Key] = state;
        }
    }


    public Task<IReadOnlyList<int>> DirtyBucketsAsync()
    {
        lock (_gate) return Task.FromResult<IReadOnlyList<int>>(_dirty.Keys.Order().ToArray());
    }

    public Task<int> CheckpointAsync(int bucket)
    {
        KeyState[] states;
        lock (_gate)
        {
            _exported.Add(bucket);
            if (!_dirty.Remove(bucket, out var keys)) return Task.FromResult(0);
            states = keys.Values.ToArray();
        }

        store.Accept(new SessionChanges(states, [], bucket));
        return Task.FromResult(states.Length);
    }
}
