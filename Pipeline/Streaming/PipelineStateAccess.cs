using System.Collections.Concurrent;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Reads keys' state out of a running pipeline and puts state back in; resets or drops keys and reads the
/// session figures (the admin commands). Thread-safe. Each request enters
/// the stream as a control item at the pipeline's head and passes every stage in order with the data,
/// so an export reflects exactly the steps that entered the pipeline before it, also with asynchronous
/// layers, and an import takes effect for every step that enters after it.
/// <para>
/// Nothing here assumes that this pipeline owns every key: an export returns only the keys that are
/// live here, and state exported elsewhere (another process, a snapshot) is imported as long as it was
/// produced by the same model (<see cref="KeyState.ModelIdentity"/>).
/// </para>
/// <para>
/// "Entered" means taken in by the pipeline's first stage: a request is ordered exactly with the data the
/// pipeline has taken, and comes before every item handed to the stream after the request was made. Items
/// handed to the stream earlier but still waiting in the buffer ahead of the pipeline (the stream does not
/// know of them yet) may come after the request; to place a request after given steps, wait for their
/// outputs (or for an earlier request) first.
/// </para>
/// <para>
/// A request completes once the data that entered before it has passed every layer; when the pipeline is
/// backpressured (a consumer that does not read), it waits like that data. Requests made after the input
/// completed, or while the stream fails, fail with an <see cref="InvalidOperationException"/>.
/// </para>
/// </summary>
public sealed class PipelineStateAccess
{
    private readonly ConcurrentQueue<StateRequest> _queue = new();
    private readonly LstmModel _model;
    private readonly ISessionStore? _store;
    private volatile Action? _wake;
    private volatile Exception? _closed;

    internal PipelineStateAccess(LstmModel model, ISessionStore? store = null)
    {
        _model = model;
        _store = store;
    }

    /// <summary>The <see cref="LstmModel.Identity"/> of the model this pipeline runs.</summary>
    public string ModelIdentity => _model.Identity;

    /// <summary>The state of <paramref name="key"/>, or null when the key is not live in this pipeline.</summary>
    public async Task<KeyState?> ExportAsync(string key, bool remove = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        var states = await ExportAsync([key], remove).ConfigureAwait(false);
        return states.Count == 0 ? null : states[0];
    }

    /// <summary>
    /// The state of those of <paramref name="keys"/> that are live in this pipeline (in the order asked).
    /// With <paramref name="remove"/> the exported keys are dropped afterwards (a hand-over: their next
    /// step here starts from zero state unless their state is imported again).
    /// </summary>
    public async Task<IReadOnlyList<KeyState>> ExportAsync(IReadOnlyList<string> keys, bool remove = false)
    {
        ArgumentNullException.ThrowIfNull(keys);
        CheckDistinct(keys, "export");
        var request = StateRequest.Export(_model.Identity, _model.Layers.Count, keys, remove);
        await Submit(request).ConfigureAwait(false);
        return request.FoundStates();
    }

    /// <summary>
    /// Puts <paramref name="state"/> back; the key's next step continues from it, and its <see cref="KeyState.LastSeq"/>
    /// becomes the key's last applied <c>seq</c>.
    /// </summary>
    public Task ImportAsync(KeyState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return ImportAsync([state]);
    }

    /// <summary>
    /// Puts every state back (live keys are overwritten, other keys are created). Refused as a whole,
    /// before anything is written, when a state belongs to another model or has the wrong shapes.
    /// </summary>
    public Task ImportAsync(IReadOnlyList<KeyState> states)
    {
        ArgumentNullException.ThrowIfNull(states);
        try
        {
            foreach (var s in states)
            {
                ArgumentNullException.ThrowIfNull(s, nameof(states));
                s.ValidateFor(_model);
            }

            var keys = new string[states.Count];
            for (var i = 0; i < keys.Length; i++) keys[i] = states[i].Key;
            CheckDistinct(keys, "import");
        }
        catch (ArgumentException e)
        {
            return Task.FromException(e);
        }

        return Submit(StateRequest.Import(states));
    }

    /// <summary>
    /// Zeroes the state of <paramref name="key"/>: its next step continues from zero state, as after a
    /// <c>reset</c> step. The key stays live (this is not a step: it does not refresh the key's idle time).
    /// Returns false when the key is not live here (nothing to reset).
    /// </summary>
    public async Task<bool> ResetAsync(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await ResetAsync([key]).ConfigureAwait(false)).Count == 1;
    }

    /// <summary>Zeroes the state of those of <paramref name="keys"/> that are live; returns them (in the order asked).</summary>
    public async Task<IReadOnlyList<string>> ResetAsync(IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        CheckDistinct(keys, "reset");
        var request = StateRequest.Reset(keys);
        await Submit(request).ConfigureAwait(false);
        return request.FoundKeys();
    }

    /// <summary>
    /// Frees the state of <paramref name="key"/> without reading it, as an <c>end</c> step would (counted in
    /// <see cref="SessionCounters.KeysEnded"/>): its next step starts from zero state as a new key. Returns
    /// false when the key is not live here.
    /// </summary>
    public async Task<bool> DropAsync(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await DropAsync([key]).ConfigureAwait(false)).Count == 1;
    }

    /// <summary>Frees those of <paramref name="keys"/> that are live; returns them (in the order asked).</summary>
    public async Task<IReadOnlyList<string>> DropAsync(IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        CheckDistinct(keys, "drop");
        var request = StateRequest.Drop(keys);
        await Submit(request).ConfigureAwait(false);
        return request.FoundKeys();
    }

    /// <summary>
    /// The session figures as of this point of the stream: they include every step that entered before the
    /// request, and completes once those steps have passed every layer. For figures right now, without
    /// waiting, read <see cref="SessionCounters.Snapshot"/> of the pipeline's handle.
    /// </summary>
    public async Task<SessionCounts> CountsAsync()
    {
        var request = StateRequest.CountsRequest();
        await Submit(request).ConfigureAwait(false);
        return request.Counts;
    }

    /// <summary>
    /// The buckets (<see cref="KeyBuckets.BucketOf"/> with the store's <see cref="ISessionStore.BucketCount"/>) that
    /// hold keys whose state changed (stepped, imported, reset) since their bucket's last checkpoint, in ascending
    /// order, as of this point of the stream. Fails with an <see cref="InvalidOperationException"/> when the
    /// pipeline has no <see cref="PipelineOptions.SessionStore"/>.
    /// </summary>
    public async Task<IReadOnlyList<int>> DirtyBucketsAsync()
    {
        RequireStore();
        var request = StateRequest.DirtyBucketsRequest();
        await Submit(request).ConfigureAwait(false);
        return request.Buckets;
    }

    /// <summary>
    /// A checkpoint of one bucket, ordered with the data: every key of <paramref name="bucket"/> live in the pipeline
    /// is copied out of the layers (only those rows; nothing else stops) and handed to the store as one
    /// <see cref="ISessionStore.Accept"/> with <see cref="SessionChanges.CheckpointBucket"/> = <paramref name="bucket"/>
    /// and <see cref="SessionChanges.LiveBucket"/>, after every eviction or end that came before in the stream; the
    /// changed marks of its keys are cleared. Completes after that call with the number of keys that had changed since
    /// the bucket's previous checkpoint. Take the buckets one by one (<see cref="DirtyBucketsAsync"/>), so no second
    /// copy of all state is ever held.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The bucket is outside the store's bucket count.</exception>
    /// <exception cref="InvalidOperationException">The pipeline has no session store.</exception>
    public async Task<int> CheckpointAsync(int bucket)
    {
        var store = RequireStore();
        if ((uint)bucket >= (uint)store.BucketCount)
            throw new ArgumentOutOfRangeException(nameof(bucket), bucket, $"the session store has {store.BucketCount} buckets (0 to {store.BucketCount - 1})");
        var request = StateRequest.Checkpoint(bucket);
        await Submit(request).ConfigureAwait(false);
        return request.Changed;
    }

    /// <summary>
    /// A hand-off of one bucket (cluster mode: the bucket moves to another node), ordered with the data: every live key of
    /// <paramref name="bucket"/> is exported to the store exactly as by <see cref="CheckpointAsync"/> (the store keeps no
    /// copy of live keys), and then each of them is freed, so the keys' next steps here (if the
    /// bucket comes back) restore them from the store. Completes after the store's <see cref="ISessionStore.Accept"/> with
    /// the number of keys exported and freed. Records of the bucket still waiting for their keys' stored state are not
    /// waited for: hand a bucket off once its records have come out.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The bucket is outside the store's bucket count.</exception>
    /// <exception cref="InvalidOperationException">The pipeline has no session store.</exception>
    public async Task<(int Exported, int Freed)> HandOffAsync(int bucket)
    {
        var store = RequireStore();
        if ((uint)bucket >= (uint)store.BucketCount)
            throw new ArgumentOutOfRangeException(nameof(bucket), bucket, $"the session store has {store.BucketCount} buckets (0 to {store.BucketCount - 1})");
        var request = StateRequest.HandOff(bucket);
        await Submit(request).ConfigureAwait(false);
        return (request.States.Length, request.Dropped);
    }

    private ISessionStore RequireStore() =>
        _store ?? throw new InvalidOperationException($"this pipeline has no session store ({nameof(PipelineOptions)}.{nameof(PipelineOptions.SessionStore)} is not set)");

    private Task Submit(StateRequest request)
    {
        _queue.Enqueue(request);
        if (_closed is not null) FailQueued();
        else _wake?.Invoke();
        return request.Completion.Task;
    }

    private static void CheckDistinct(IReadOnlyList<string> keys, string what)
    {
        var seen = new HashSet<string>(keys.Count, StringComparer.Ordinal);
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
            if (!seen.Add(key)) throw new ArgumentException($"key '{key}' is named twice in one {what} request", nameof(keys));
        }
    }

    /// <summary>Called by the control stage once it runs: <paramref name="wake"/> makes it look at the queue.</summary>
    internal void Attach(Action wake) => _wake = wake;

    internal bool TryDequeue(out StateRequest request) => _queue.TryDequeue(out request!);

    /// <summary>No more requests are taken; queued ones fail with <paramref name="reason"/>.</summary>
    internal void Close(Exception reason)
    {
        _closed ??= reason;
        _wake = null;
        FailQueued();
    }

    private void FailQueued()
    {
        var reason = _closed!;
        while (_queue.TryDequeue(out var request)) request.Completion.TrySetException(reason);
    }
}
