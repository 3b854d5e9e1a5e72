using Akka.Actor;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// One per node in cluster mode: receives the <see cref="RoutedOutputs"/> of the records this node's channels accepted
/// and hands each batch, in arrival order, to <c>deliver</c> (the node's outbox, which gives every row to its connection);
/// takes back the <see cref="RoutedRecords"/> of this node that a shard region dropped during a hand-off
/// (<see cref="DroppedRecordsActor"/>) and hands them to <c>resend</c>; and every <see cref="CheckInterval"/> calls
/// <c>check</c> (envelopes whose owner died with them are given up).
/// </summary>
public sealed class RoutedOutputsActor : ReceiveActor, IWithTimers
{
    /// <summary>How often envelopes in flight are checked for an owner that died with them.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    public RoutedOutputsActor(Action<RoutedOutputs> deliver, Action<RoutedRecords> resend, Action check)
    {
        Receive<RoutedOutputs>(deliver);
        Receive<RoutedRecords>(resend);
        Receive<Check>(_ => check());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Action<RoutedOutputs> deliver, Action<RoutedRecords> resend, Action check) =>
        Akka.Actor.Props.Create(() => new RoutedOutputsActor(deliver, resend, check));

    protected override void PreStart() => Timers.StartPeriodicTimer(nameof(Check), Check.Instance, CheckInterval);

    private sealed class Check
    {
        public static Check Instance { get; } = new();
    }
}
