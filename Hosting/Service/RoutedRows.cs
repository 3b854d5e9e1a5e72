using Akka.Actor;

namespace LstmStream.Hosting.Service;

/// <summary>
/// On the node that owns a bucket (cluster mode): the rows routed here from the channels of some node, by the tag they
/// carry through this node's pipeline. A routed row's tag has 0 in its high half (no connection has id 0) and its slot
/// here in the low half; the slot remembers where the output goes back to (the accepting node's
/// <c>RoutedOutputsActor</c>), the tag the accepting connection gave the row and the row's bucket, so that a bucket's
/// hand-off can wait until its rows have come out (<see cref="WhenDrained"/>). Slots are taken by the bucket entities
/// (<see cref="Admit"/>) and given back by the outbox (<see cref="Take"/>); a small lock guards them, as a connection's.
/// <para>
/// Rows of this node's own channels that entered the pipeline directly (their bucket's entity lives here:
/// <see cref="BucketRouter.DirectEntry"/>) take slots too, of the origin <see cref="Direct"/>
/// (<see cref="AdmitDirect"/>): the outbox gives them to their connections itself, and a hand-off of their bucket waits for
/// them as for routed ones.
/// </para>
/// </summary>
internal sealed class RoutedRows
{
    private readonly object _gate = new();
    private readonly Dictionary<IActorRef, int> _originIndex = [];
    private readonly List<IActorRef> _origins = [ActorRefs.Nobody];
    private readonly Dictionary<int, TaskCompletionSource> _drainWaiters = [];
    private long[] _tags = new long[1024];
    private int[] _originOf = new int[1024];
    private int[] _bucketOf = new int[1024];
    private int[] _free = new int[1024];
    private int[] _perBucket = new int[64];
    private int _freeCount;
    private int _used;

    /// <summary>The origin of the rows that entered directly from this node's channels (<see cref="AdmitDirect"/>).</summary>
    public const int Direct = 0;

    /// <summary>Rows admitted whose output has not been taken yet.</summary>
    public int InFlight
    {
        get
        {
            lock (_gate) return _used - _freeCount;
        }
    }

    /// <summary>Every origin that routed rows here so far (their reply addresses), not <see cref="Direct"/>.</summary>
    public IActorRef[] Origins()
    {
        lock (_gate) return [.. _origins.Skip(1)];
    }

    /// <summary>The reply address of origin <paramref name="index"/>.</summary>
    public IActorRef Origin(int index)
    {
        lock (_gate) return _origins[index];
    }

    /// <summary>
    /// Takes a slot per row of <paramref name="bucket"/> coming from <paramref name="origin"/> and writes each row's routed
    /// tag over its original one.
    /// </summary>
    public void Admit(IActorRef origin, int bucket, ReadOnlySpan<long> originalTags, Span<long> routedTags)
    {
        lock (_gate)
        {
            if (!_originIndex.TryGetValue(origin, out var index))
            {
                index = _origins.Count;
                _origins.Add(origin);
                _originIndex[origin] = index;
            }

            if (bucket >= _perBucket.Length) Array.Resize(ref _perBucket, Math.Max(bucket + 1, _perBucket.Length * 2));
            _perBucket[bucket] += originalTags.Length;
            for (var r = 0; r < originalTags.Length; r++)
            {
                var slot = NewSlot();
                _tags[slot] = originalTags[r];
                _originOf[slot] = index;
                _bucketOf[slot] = bucket;
                routedTags[r] = (uint)slot;
            }
        }
    }

    /// <summary>
    /// Takes a slot of origin <see cref="Direct"/> per row of <paramref name="tags"/> (rows of this node's channels; the
    /// bucket of row <c>r</c> is <c>buckets[r]</c>) and writes each row's routed tag over its original one.
    /// </summary>
    public void AdmitDirect(ReadOnlySpan<int> buckets, Span<long> tags)
    {
        lock (_gate)
        {
            for (var r = 0; r < tags.Length; r++)
            {
                var bucket = buckets[r];
                if (bucket >= _perBucket.Length) Array.Resize(ref _perBucket, Math.Max(bucket + 1, _perBucket.Length * 2));
                _perBucket[bucket]++;
                var slot = NewSlot();
                _tags[slot] = tags[r];
                _originOf[slot] = Direct;
                _bucketOf[slot] = bucket;
                tags[r] = (uint)slot;
            }
        }
    }

    /// <summary>Gives back the slot of a routed row's tag: the origin's index and the row's original tag.</summary>
    public (int Origin, long Tag) Take(long routedTag)
    {
        var slot = (int)(routedTag & 0xFFFF_FFFF);
        lock (_gate)
        {
            _free[_freeCount++] = slot;
            var bucket = _bucketOf[slot];
            // Continuations run asynchronously: completing under the lock runs no one else's code here.
            if (--_perBucket[bucket] == 0 && _drainWaiters.Count > 0 && _drainWaiters.Remove(bucket, out var drained)) drained.TrySetResult();
            return (_originOf[slot], _tags[slot]);
        }
    }

    /// <summary>Completes when every row of <paramref name="bucket"/> admitted so far has been taken (at once when none is in flight).</summary>
    public Task WhenDrained(int bucket)
    {
        lock (_gate)
        {
            if (bucket >= _perBucket.Length || _perBucket[bucket] == 0) return Task.CompletedTask;
            if (!_drainWaiters.TryGetValue(bucket, out var drained))
                _drainWaiters[bucket] = drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return drained.Task;
        }
    }

    /// <summary>True when <paramref name="tag"/> is a routed row's (high half 0).</summary>
    public static bool IsRouted(long tag) => tag >>> 32 == 0;

    private int NewSlot()
    {
        if (_freeCount > 0) return _free[--_freeCount];
        if (_used == _tags.Length) Grow();
        return _used++;
    }

    private void Grow()
    {
        var size = _tags.Length * 2;
        Array.Resize(ref _tags, size);
        Array.Resize(ref _originOf, size);
        Array.Resize(ref _bucketOf, size);
        Array.Resize(ref _free, size);
    }
}
