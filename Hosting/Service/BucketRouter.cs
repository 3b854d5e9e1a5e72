using System.Diagnostics;
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
    private long _queued;
    private long _resent;

    public BucketRouter(IActorRef region, IActorRef replyTo, int bucketCount, TimeSpan staleAfter)
    {
        _region = region;
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

    /// <summary>Sends (or queues behind their bucket's envelope in flight) the rows of <paramref name="batch"/>; does not release it.</summary>
    public void Route(StepBatch batch)
    {
        var groups = RowGroups.ForThisThread;
        groups.Begin(batch.Count);
        for (var r = 0; r < batch.Count; r++) groups.Add(r, KeyBuckets.BucketOf(batch.Keys[r], BucketCount));
        groups.End();
        lock (_gate)
        {
            for (var g = 0; g < groups.Count; g++)
            {
                var bucket = groups.Group(g);
                var rows = groups.Rows(g);
                if (_unanswered[bucket] == 0)
                {
                    // One envelope of at most RoutedMessageSize.MaxRoutedBytes; what does not fit waits behind it.
                    var fit = RoutedMessageSize.RowsThatFit(batch.Keys, rows, batch.Width);
                    var (keys, seq, flags, tags, data) = RowGroups.Copy(batch, rows[..fit]);
                    Send(new RoutedRecords(bucket, _replyTo, batch.Width, keys, seq, flags, tags, data));
                    rows = rows[fit..];
                }

                if (rows.Length > 0)
                {
                    (_pending[bucket] ??= new PendingRecords()).Append(batch, rows);
                    Interlocked.Add(ref _queued, rows.Length);
                }
            }
        }
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
        var records = pending.Take(bucket, _replyTo);
        Interlocked.Add(ref _queued, -records.Count);
        Send(records);
    }

    private void Send(RoutedRecords records)
    {
        _unanswered[records.Bucket] = records.Count;
        _sentAt[records.Bucket] = Stopwatch.GetTimestamp();
        _region.Tell(records, ActorRefs.NoSender);
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

        /// <summary>The oldest records that fit one envelope (<see cref="RoutedMessageSize.MaxRoutedBytes"/>); the rest stay.</summary>
        public RoutedRecords Take(int bucket, IActorRef replyTo)
        {
            var n = Fitting();
            var records = new RoutedRecords(bucket, replyTo, _width, _keys[..n].ToArray(), _seq[..n].ToArray(), _flags[..n].ToArray(), _tags[..n].ToArray(),
                _data[..(n * _width)].ToArray());
            _keys.RemoveRange(0, n);
            _seq.RemoveRange(0, n);
            _flags.RemoveRange(0, n);
            _tags.RemoveRange(0, n);
            _data.RemoveRange(0, n * _width);
            return records;
        }

        private int Fitting()
        {
            long bytes = RoutedMessageSize.HeaderBytes;
            for (var i = 0; i < _keys.Count; i++)
            {
                bytes += RoutedMessageSize.RowBytesBound(_keys[i], _width);
                if (bytes > RoutedMessageSize.MaxRoutedBytes) return Math.Max(1, i);
            }

            return _keys.Count;
        }
    }
}
