using Akka.Actor;
using Akka.Event;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// The address of the session store: starts a <see cref="BucketActor"/> for a bucket when a message for it arrives,
/// holds the bucket's messages (in order) while its actor recovers or stops, and stops a bucket's actor when it
/// reports itself idle with nothing unsaved. When a bucket cannot be recovered (the store is unreachable, a snapshot
/// unreadable), the requests waiting for it are answered with a failure and its unsaved changes are kept here, in
/// order, for the next attempt (the next message for the bucket starts its actor again). Also checks the store's bucket
/// count (<see cref="CheckBucketCount"/>, through a <see cref="BucketCountActor"/>).
/// </summary>
public sealed class BucketRegionActor : ReceiveActor
{
    private readonly TimeSpan _idleAfter;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<int, Entry> _buckets = [];
    private readonly Dictionary<IActorRef, int> _bucketOf = [];
    private long _generation;

    public BucketRegionActor(TimeSpan idleAfter)
    {
        _idleAfter = idleAfter;
        Receive<CheckBucketCount>(m => Context.ActorOf(BucketCountActor.Props(Sender, m.BucketCount, m.Setting), $"bucket-count-{++_generation}"));
        Receive<BucketReady>(m => Ready(m.Bucket, Sender));
        Receive<BucketBusy>(m => Ready(m.Bucket, Sender));
        Receive<BucketIdle>(m =>
        {
            if (!_buckets.TryGetValue(m.Bucket, out var entry) || !entry.Actor.Equals(Sender) || entry.Phase != Phase.Ready) return;
            entry.Phase = Phase.Stopping;
            entry.Actor.Tell(new StopIfIdle(m.Bucket));
        });
        Receive<BucketRecoveryFailed>(m =>
        {
            if (!_buckets.TryGetValue(m.Bucket, out var entry) || !entry.Actor.Equals(Sender)) return;
            entry.Failure = m.Reason;
        });
        Receive<Terminated>(m => Stopped(m.ActorRef));
        Receive<IBucketMessage>(Route);
    }

    public static Props Props(TimeSpan idleAfter) => Akka.Actor.Props.Create(() => new BucketRegionActor(idleAfter));

    private void Route(IBucketMessage message)
    {
        if (!_buckets.TryGetValue(message.Bucket, out var entry))
        {
            entry = new Entry();
            _buckets[message.Bucket] = entry;
        }

        if (entry.Phase == Phase.NotRunning) Start(message.Bucket, entry);
        if (entry.Phase == Phase.Ready) entry.Actor.Forward(message);
        else entry.Waiting.Enqueue((message, Sender));
    }

    private void Start(int bucket, Entry entry)
    {
        entry.Actor = Context.Watch(Context.ActorOf(BucketActor.Props(bucket, _idleAfter), $"bucket-{bucket}-{++_generation}"));
        entry.Phase = Phase.Starting;
        entry.Failure = null;
        _bucketOf[entry.Actor] = bucket;
    }

    private void Ready(int bucket, IActorRef actor)
    {
        if (!_buckets.TryGetValue(bucket, out var entry) || !entry.Actor.Equals(actor)) return;
        entry.Phase = Phase.Ready;
        while (entry.Waiting.TryDequeue(out var waiting)) entry.Actor.Tell(waiting.Message, waiting.Sender);
    }

    private void Stopped(IActorRef actor)
    {
        if (!_bucketOf.Remove(actor, out var bucket) || !_buckets.TryGetValue(bucket, out var entry) || !entry.Actor.Equals(actor)) return;
        if (entry.Phase == Phase.Stopping && entry.Waiting.Count == 0)
        {
            _buckets.Remove(bucket);
            return;
        }

        if (entry.Phase == Phase.Stopping)
        {
            Start(bucket, entry);
            return;
        }

        // Recovery failed (or the actor stopped unexpectedly): answer who waits, keep the changes for the next attempt.
        var reason = entry.Failure?.Message ?? "its actor stopped";
        _log.Warning("Session store bucket {0} could not be recovered: {1}", bucket, reason);
        var failure = new Status.Failure(new SessionStoreException($"bucket {bucket} could not be read from the session store: {reason}", entry.Failure));
        var kept = new Queue<(IBucketMessage, IActorRef)>();
        while (entry.Waiting.TryDequeue(out var waiting))
        {
            if (waiting.Message is ApplyChanges) kept.Enqueue(waiting);
            else waiting.Sender.Tell(failure);
        }

        entry.Waiting = kept;
        entry.Phase = Phase.NotRunning;
        entry.Actor = ActorRefs.Nobody;
    }

    private enum Phase
    {
        NotRunning,
        Starting,
        Ready,
        Stopping,
    }

    private sealed class Entry
    {
        public IActorRef Actor { get; set; } = ActorRefs.Nobody;
        public Phase Phase { get; set; } = Phase.NotRunning;
        public Exception? Failure { get; set; }
        public Queue<(IBucketMessage Message, IActorRef Sender)> Waiting { get; set; } = new();
    }
}
