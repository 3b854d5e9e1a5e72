using System.Collections.Concurrent;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Streaming;

/// <summary>
/// An in-memory <see cref="ISessionStore"/> for tests: applies every <see cref="Accept"/> at once (saves overwrite,
/// deletes remove), records the calls, and serves <see cref="LoadAsync"/> from what it holds; a test can hold the
/// loads of a key until released and make the next loads fail.
/// </summary>
internal sealed class RecordingSessionStore(int bucketCount = 8) : ISessionStore
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _held = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private int _failuresLeft;

    public int BucketCount { get; } = bucketCount;

    /// <summary>What the store holds now, by key.</summary>
    public ConcurrentDictionary<string, KeyState> Stored { get; } = new(StringComparer.Ordinal);

    /// <summary>Every Accept call, in order.</summary>
    public List<SessionChanges> Accepted { get; } = [];

    /// <summary>The keys of every LoadAsync call, in order (failed ones included).</summary>
    public List<string[]> Loads { get; } = [];

    /// <summary>Loads that include <paramref name="key"/> wait until <see cref="Release"/>.</summary>
    public void Hold(string key) => _held[key] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release(string key)
    {
        if (_held.TryRemove(key, out var gate)) gate.SetResult();
    }

    /// <summary>The next <paramref name="count"/> loads fail.</summary>
    public void FailNextLoads(int count) => Volatile.Write(ref _failuresLeft, count);

    public SessionChanges[] AcceptedSoFar()
    {
        lock (_gate) return Accepted.ToArray();
    }

    public string[][] LoadsSoFar()
    {
        lock (_gate) return Loads.ToArray();
    }

    public async Task<IReadOnlyList<KeyState>> LoadAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        lock (_gate) Loads.Add(keys.ToArray());
        foreach (var key in keys)
        {
            if (_held.TryGetValue(key, out var gate)) await gate.Task.WaitAsync(cancellationToken);
        }

        if (Interlocked.Decrement(ref _failuresLeft) >= 0) throw new IOException("the test store is down");
        return keys.Where(Stored.ContainsKey).Select(k => Stored[k]).ToList();
    }

    public void Accept(SessionChanges changes)
    {
        lock (_gate) Accepted.Add(changes);
        foreach (var state in changes.Save) Stored[state.Key] = state;
        foreach (var key in changes.Delete) Stored.TryRemove(key, out _);
    }
}
