using Akka.Actor;
using Akka.Event;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// One per node in cluster mode: watches this node's dead letters for <see cref="RoutedRecords"/> (a shard region drops
/// the messages it took for a shard between the coordinator's BeginHandOff and HandOff) and sends each back to the node
/// that routed it (<see cref="RoutedRecords.ReplyTo"/>, its <see cref="RoutedOutputsActor"/>), which sends it again to the
/// bucket's next owner. Records are never dropped for a hand-off.
/// </summary>
public sealed class DroppedRecordsActor : ReceiveActor
{
    /// <summary>How often one message is sent back before it counts as undeliverable (a node whose region is gone).</summary>
    private const int MaxReturns = 10;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<RoutedRecords, StrongBox> _returns = new();

    public DroppedRecordsActor()
    {
        Receive<AllDeadLetters>(letter =>
        {
            // The region's drop arrives as a Dropped told to the dead letters, which publish it wrapped in a DeadLetter.
            var (message, recipient) = letter.Message is AllDeadLetters inner ? (inner.Message, inner.Recipient) : (letter.Message, letter.Recipient);
            // Not when the origin itself is gone (the letter was sent to it): there is no one to send it to.
            if (message is not RoutedRecords records || Equals(recipient, records.ReplyTo)) return;
            if (++_returns.GetOrCreateValue(records).Value > MaxReturns)
            {
                _log.Error("Bucket {0}: {1} routed record(s) could not be delivered after {2} attempts (the shard region is gone); dropped",
                    records.Bucket, records.Count, MaxReturns);
                return;
            }

            _log.Warning("Bucket {0}: {1} routed record(s) dropped by the shard region during a hand-off; sent back to {2} to be routed again",
                records.Bucket, records.Count, records.ReplyTo.Path.Address);
            records.ReplyTo.Tell(records);
        });
    }

    private sealed class StrongBox
    {
        public int Value;
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new DroppedRecordsActor());

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AllDeadLetters));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
