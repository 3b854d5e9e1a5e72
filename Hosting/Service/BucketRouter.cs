using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using LstmStream.Actors.Cluster;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Service;

/// <summary>
/// Cluster mode, on the node whose channels accepted the records: sends them to their bucket's owner through the shard
/// region, <b>one envelope (<see cref="RoutedRecords"/>) per bucket in flight</b>. Records of a bucket accepted while its
/// envelope is out wait here, in order, and leave together as the next envelope once every output of the one in flight
/// has come back (<see cref="Answered"/>): under load a bucket's envelope carries all that arrived during one round trip.
/// <para>
/// Why one at a time: Akka's shard region is at-most-once while a shard is handed off (the old owner's region drops the
/// messages it took between the coordinator's BeginHandOff and HandOff rather than risk reordering them). Such a dropped
/// envelope comes back here from the dead letters (<see cref="DroppedRecordsActor"/>) and is sent again
/// (<see cref="Resend"/>); since nothing later of its bucket left this node meanwhile, it still comes before every later
/// record of its keys: nothing is lost and per-key order holds.
/// </para>
/// <para>
/// An envelope whose outputs do not come back within <c>staleAfter</c> (its owner died with it: kill -9) is given up
/// (<see cref="ReleaseStale"/>), so the bucket's later records go on to the bucket's next owner; the given-up records are
/// lost as with any crash (replaying sources send them again). Thread-safe: one lock, held only to group, queue and tell.
/// </para>
/// <para>
/// <b>Local owner shortcut</b> (<see cref="DirectEntry"/>): a bucket whose entity lives on this node and is not handed off
/// has its gate open (<see cref="Open"/>); its rows then skip the shard region and enter this node's pipeline directly, rows
/// of every such bucket of a batch together (the pipeline's micro-batcher joins them with the rest: one matrix multiply for
/// them all). A bucket goes direct only when nothing of it is in flight through the region or queued here (its envelope's
/// outputs all came back), so its direct rows never overtake routed ones. The gate closes under this lock
/// (<see cref="Close"/>: the bucket's hand-off starts, its entity stops): rows written directly before are in the pipeline's
/// inbox by then (the entry runs under this lock too) and the hand-off waits for their outputs; later rows take the region,
/// which holds them until the bucket's next owner is known. (An envelope given up as stale counts as answered: its
/// records are taken for lost with their owner.)
/// </para>
/// </summary>
internal sealed class BucketRouter
{
    private readonly object _gate = new();
    private readonly IActorRef _region;
    private readonly IActorRef _replyTo;
    private readonly int[] _unanswered;
    private readonly long[] _sentAt;
    private readonly PendingRecords?[] _pending;
    private readonly long _staleTicks;
    private readonly bool[] _open;
    private readonly DirectEntry? _direct;
    private readonly EnvelopeRows _envelope = new();
    private int[] _directBuckets = new int[64];
    private long _queued;
    private int _openCount;
    private long _resent;
    private long _entered;

    /// <summary>
    /// Puts <paramref name="rows"/> (rows of buckets whose gate is open; the bucket of row <c>r</c> is <c>buckets[r]</c>) into
    /// this node's pipeline, in order with every earlier call; called under the router's lock. False: the pipeline takes no
    /// input any more (it stops), nothing was taken.
    /// </summary>
    public delegate bool DirectEntry(StepBatch rows, ReadOnlySpan<int> buckets);

    /// <param name="direct">This node's pipeline for the buckets whose entity lives here (null: every row takes the region).</param>
    public BucketRouter(IActorRef region, IActorRef replyTo, int bucketCount, TimeSpan staleAfter, DirectEntry? direct = null)
    {
        _region = region;
        _direct = direct;
        _open = new bool[bucketCount];
        _replyTo = replyTo;
        BucketCount = bucketCount;
        _unanswered = new int[bucketCount];
        _sentAt = new long[bucketCount];
        _pending = new PendingRecords?[bucketCount];
        _staleTicks = (long)(staleAfter.TotalSeconds * Stopwatch.Frequency);
    }

    public int BucketCount { get; }

    /// <summary>Records waiting here for their bucket's envelope in flight.</summary>
    public long Queued => Interlocked.Read(ref _queued);

    /// <summary>Envelopes sent again after the shard region dropped them during a hand-off.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Records that entered this node's pipeline directly (their bucket's entity lives here).</summary>
    public long EnteredDirectly => Interlocked.Read(ref _entered);

    /// <summary>
    /// The entity of <paramref name="bucket"/> lives on this node and is not handed off: once nothing of the bucket is in
    /// flight through the region, its rows enter this node's pipeline directly.
    /// </summary>
    public void Open(int bucket)
    {
        lock (_gate)
        {
            if (!_open[bucket]) _openCount++;
            _open[bucket] = true;
        }
    }

    /// <summary>Some bucket's gate is open: rows of a batch may enter this node's pipeline directly.</summary>
    public bool AnyOpen => Volatile.Read(ref _openCount) > 0;

    /// <summary>
    /// The bucket's hand-off starts (or its entity stops): from now on its rows take the region. Rows that entered directly
    /// before are in the pipeline's inbox when this returns.
    /// </summary>
    public void Close(int bucket)
    {
        lock (_gate)
        {
            if (_open[bucket]) _openCount--;
            _open[bucket] = false;
        }
    }

    /// <summary>
    /// Sends (or queues behind their bucket's envelope in flight) the rows of <paramref name="batch"/>, or puts those of
    /// buckets whose gate is open into this node's pipeline. Returns <see cref="Routing.Taken"/> when every row entered the
    /// pipeline directly in <paramref name="batch"/> itself (which the pipeline then owns); else the caller still releases it.
    /// </summary>
    public Routing Route(StepBatch batch)
    {
        var groups = RowGroups.ForThisThread;
        groups.Begin(batch.Count);
        for (var r = 0; r < batch.Count; r++) groups.Add(r, KeyBuckets.BucketOf(batch.Keys[r], BucketCount));
        groups.End();
        lock (_gate)
        {
            var direct = 0;
            for (var g = 0; g < groups.Count; g++)
            {
                var bucket = groups.Group(g);
                var rows = groups.Rows(g);
                if (_direct is not null && _open[bucket] && _unanswered[bucket] == 0 && _pending[bucket] is not { Count: > 0 })
                {
                    // Entered below, with the other direct rows of this batch.
                    direct += rows.Length;
                    continue;
                }

                if (_unanswered[bucket] == 0)
                {
                    // One envelope: the first row of each key, at most RoutedMessageSize.MaxRoutedBytes; the rest waits behind it.
                    _envelope.Choose(batch.Keys, rows, batch.Width);
                    var (keys, seq, flags, tags, data) = RowGroups.Copy(batch, _envelope.Taken);
                    Send(new RoutedRecords(bucket, _replyTo, batch.Width, keys, seq, flags, tags, data));
                    rows = _envelope.Left;
                }

                if (rows.Length > 0)
                {
                    (_pending[bucket] ??= new PendingRecords()).Append(batch, rows);
                    Interlocked.Add(ref _queued, rows.Length);
                }
            }

            return direct == 0 ? Routing.Routed : EnterDirectly(batch, groups, direct);
        }
    }

    /// <summary>Under the lock: the rows of the open buckets of <paramref name="batch"/> (<paramref name="direct"/> of them) enter the pipeline.</summary>
    private Routing EnterDirectly(StepBatch batch, RowGroups groups, int direct)
    {
        if (direct == batch.Count)
        {
            // The whole batch (the usual case on a node that owns every bucket): no copy.
            if (!_direct!(batch, groups.GroupOfRows)) return Routing.Refused;
            Interlocked.Add(ref _entered, direct);
            return Routing.Taken;
        }

        var rows = StepBatch.Rent(direct, batch.Width);
        if (_directBuckets.Length < direct) _directBuckets = new int[Math.Max(direct, _directBuckets.Length * 2)];
        for (var g = 0; g < groups.Count; g++)
        {
            var bucket = groups.Group(g);
            if (!_open[bucket] || _unanswered[bucket] != 0 || _pending[bucket] is { Count: > 0 }) continue;
            foreach (var r in groups.Rows(g))
            {
                var i = rows.Add(batch.Keys[r], batch.Seq[r], batch.Flags[r], batch.Tags[r]);
                _directBuckets[i] = bucket;
                batch.Row(r).CopyTo(rows.Row(i));
            }
        }

        if (!_direct!(rows, _directBuckets.AsSpan(0, direct)))
        {
            rows.Release();
            return Routing.PartlyRefused;
        }

        Interlocked.Add(ref _entered, direct);
        return Routing.Routed;
    }

    /// <summary>Outputs came back: a bucket whose envelope is fully answered sends the records that waited for it.</summary>
    public void Answered(RoutedOutputs outputs)
    {
        lock (_gate)
        {
            for (var r = 0; r < outputs.Count; r++)
            {
                var bucket = KeyBuckets.BucketOf(outputs.Keys[r], BucketCount);
                if (_unanswered[bucket] > 0 && --_unanswered[bucket] == 0) SendPending(bucket);
            }
        }
    }

    /// <summary>An envelope the shard region dropped (during a hand-off) is sent again, still the only one of its bucket in flight.</summary>
    public void Resend(RoutedRecords records)
    {
        Interlocked.Increment(ref _resent);
        _region.Tell(records, ActorRefs.NoSender);
    }

    /// <summary>Gives up the envelopes in flight longer than the stale time; returns their buckets and records.</summary>
    public List<(int Bucket, int Records)> ReleaseStale()
    {
        var released = new List<(int, int)>();
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            for (var bucket = 0; bucket < BucketCount; bucket++)
            {
                if (_unanswered[bucket] == 0 || now - _sentAt[bucket] < _staleTicks) continue;
                released.Add((bucket, _unanswered[bucket]));
                _unanswered[bucket] = 0;
                SendPending(bucket);
            }
        }

        return released;
    }

    private void SendPending(int bucket)
    {
        if (_pending[bucket] is not { Count: > 0 } pending) return;
        var records = pending.Take(bucket, _replyTo, _envelope);
        Interlocked.Add(ref _queued, -records.Count);
        Send(records);
    }

    private void Send(RoutedRecords records)
    {
        _unanswered[records.Bucket] = records.Count;
        _sentAt[records.Bucket] = Stopwatch.GetTimestamp();
        _region.Tell(records, ActorRefs.NoSender);
    }

    /// <summary>What <see cref="Route"/> did with a batch.</summary>
    public enum Routing
    {
        /// <summary>Its rows were sent, queued or entered the pipeline in copies: the caller releases the batch.</summary>
        Routed,

        /// <summary>Every row entered this node's pipeline in the batch itself, which the pipeline now owns.</summary>
        Taken,

        /// <summary>Every row was for this node's pipeline, which takes no input any more: nothing of the batch was taken.</summary>
        Refused,

        /// <summary>Some rows were routed, those for this node's pipeline were not taken (it stops): they are lost.</summary>
        PartlyRefused,
    }

    /// <summary>A bucket's records waiting for its envelope in flight (lists kept from envelope to envelope).</summary>
    private sealed class PendingRecords
    {
        private readonly List<string> _keys = [];
        private readonly List<long> _seq = [];
        private readonly List<StepFlags> _flags = [];
        private readonly List<long> _tags = [];
        private readonly List<float> _data = [];
        private int _width;
        private int[] _order = [];

        public int Count => _keys.Count;

        public void Append(StepBatch batch, ReadOnlySpan<int> rows)
        {
            _width = batch.Width;
            foreach (var r in rows)
            {
                _keys.Add(batch.Keys[r]);
                _seq.Add(batch.Seq[r]);
                _flags.Add(batch.Flags[r]);
                _tags.Add(batch.Tags[r]);
                _data.AddRange(batch.Row(r));
            }
        }

        /// <summary>The next envelope (<see cref="EnvelopeRows"/>: the oldest record of each key, as many as fit); the rest stay, in order.</summary>
        public RoutedRecords Take(int bucket, IActorRef replyTo, EnvelopeRows envelope)
        {
            var count = _keys.Count;
            if (_order.Length < count) _order = Enumerable.Range(0, Math.Max(count, _order.Length * 2)).ToArray();
            envelope.Choose(CollectionsMarshal.AsSpan(_keys), _order.AsSpan(0, count), _width);
            var taken = envelope.Taken;
            var n = taken.Length;
            var keys = new string[n];
            var seq = new long[n];
            var flags = new StepFlags[n];
            var tags = new long[n];
            var data = new float[n * _width];
            var rows = CollectionsMarshal.AsSpan(_data);
            for (var i = 0; i < n; i++)
            {
                var r = taken[i];
                keys[i] = _keys[r];
                seq[i] = _seq[r];
                flags[i] = _flags[r];
                tags[i] = _tags[r];
                rows.Slice(r * _width, _width).CopyTo(data.AsSpan(i * _width, _width));
            }

            // The rows left move to the front, in order (each moves down or stays: a forward copy is safe).
            var left = envelope.Left;
            for (var i = 0; i < left.Length; i++)
            {
                var r = left[i];
                if (r == i) continue;
                _keys[i] = _keys[r];
                _seq[i] = _seq[r];
                _flags[i] = _flags[r];
                _tags[i] = _tags[r];
                rows.Slice(r * _width, _width).CopyTo(rows.Slice(i * _width, _width));
            }

            _keys.RemoveRange(left.Length, n);
            _seq.RemoveRange(left.Length, n);
            _flags.RemoveRange(left.Length, n);
            _tags.RemoveRange(left.Length, n);
            _data.RemoveRange(left.Length * _width, n * _width);
            return new RoutedRecords(bucket, replyTo, _width, keys, seq, flags, tags, data);
        }
    }
}
