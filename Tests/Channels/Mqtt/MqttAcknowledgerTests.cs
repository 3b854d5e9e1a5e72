using System.Collections.Concurrent;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Tests.Actors.Persistence;
using LstmStream.Tests.Support;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>
/// Acknowledgement after the checkpoint, following <see cref="CheckpointRounds"/>: only readings a written round covers,
/// in arrival order, nothing for a failed round, nothing of an earlier connection.
/// </summary>
public sealed class MqttAcknowledgerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly ConcurrentQueue<string> _acknowledged = new();
    private readonly SemaphoreSlim _acknowledgements = new(0);

    [Fact]
    public async Task Only_readings_whose_output_came_before_a_written_round_began_are_acknowledged_in_arrival_order()
    {
        var rounds = new CheckpointRounds(active: true);
        var acknowledger = new MqttAcknowledger(rounds, _ => true, new ListLogger());
        var a0 = Message("a0");
        var b0 = Message("b0");
        var a1 = Message("a1");
        acknowledger.Expect("a", a0, session: 1);
        acknowledger.Expect("b", b0, session: 1);
        acknowledger.Expect("a", a1, session: 1);
        Assert.False(a0.AutoAcknowledge);

        // b0 and a0 come out before round 1 begins, a1 after it.
        acknowledger.Published([acknowledger.Delivered("b"), acknowledger.Delivered("a")]);
        var round = rounds.Begin();
        acknowledger.Published([acknowledger.Delivered("a")]);
        rounds.Complete(round);

        await WaitForAcknowledgementsAsync(2);
        Assert.Equal(["a0", "b0"], _acknowledged);

        // a1 needs the next written round.
        var next = rounds.Begin();
        rounds.Complete(next);
        await WaitForAcknowledgementsAsync(1);
        Assert.Equal(["a0", "b0", "a1"], _acknowledged);
        Assert.Equal(3, acknowledger.Acknowledged);
        Assert.Equal(0, acknowledger.Awaiting);
        await acknowledger.CompleteAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_reading_stepped_on_another_node_is_acknowledged_only_once_that_node_wrote_the_round_covering_it()
    {
        var rounds = new CheckpointRounds(active: true);
        var acknowledger = new MqttAcknowledger(rounds, _ => true, new ListLogger());
        var owner = new OwnerActorRef(new Akka.Actor.Address("akka.tcp", "lstmstream", "127.0.0.1", 4054), 1);
        acknowledger.Expect("routed", Message("routed0"), session: 1);
        acknowledger.Expect("local", Message("local0"), session: 1);

        // The routed reading's output comes back from its owner, stepped while 7 of the owner's rounds had begun.
        rounds.RoutedDelivered(owner, 7);
        acknowledger.Published([acknowledger.Delivered("routed"), acknowledger.Delivered("local")]);
        rounds.Complete(rounds.Begin());

        // This node's round is written, the owner's round 7 began before the step: nothing is covered yet (and the
        // acknowledger takes only what the last committed round covers).
        rounds.OwnerWrote(owner, 7);
        Assert.Equal(0, rounds.LastCommitted);
        Assert.Equal(2, acknowledger.Awaiting);

        rounds.OwnerWrote(owner, 8);
        Assert.Equal(1, rounds.LastCommitted);
        await WaitForAcknowledgementsAsync(2);
        Assert.Equal(["routed0", "local0"], _acknowledged);
        await acknowledger.CompleteAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_failed_round_acknowledges_nothing_and_the_next_written_one_covers_what_it_would_have()
    {
        var rounds = new CheckpointRounds(active: true);
        var acknowledger = new MqttAcknowledger(rounds, _ => true, new ListLogger());
        acknowledger.Expect("a", Message("a0"), session: 1);
        acknowledger.Settle(Message("rejected"), session: 1);
        acknowledger.Published([acknowledger.Delivered("a")]);
        rounds.Begin(); // this round fails: Complete is never called for it

        // Completing makes the loop take a last pass: the failed round covered nothing, so nothing is acknowledged.
        await acknowledger.CompleteAsync(CancellationToken.None);
        Assert.Empty(_acknowledged);
        Assert.Equal(2, acknowledger.Awaiting);

        var second = new MqttAcknowledger(rounds, _ => true, new ListLogger());
        second.Expect("a", Message("a1"), session: 1);
        second.Settle(Message("rejected"), session: 1);
        second.Published([second.Delivered("a")]);
        rounds.Complete(rounds.Begin());
        await WaitForAcknowledgementsAsync(2);
        Assert.Equal(["a1", "rejected"], _acknowledged);
        await second.CompleteAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Readings_of_an_earlier_connection_are_passed_over_never_acknowledged_on_the_new_one()
    {
        var rounds = new CheckpointRounds(active: true);
        var acknowledger = new MqttAcknowledger(rounds, session => session == 2, new ListLogger());
        acknowledger.Expect("a", Message("old"), session: 1);
        acknowledger.Expect("a", Message("new"), session: 2);
        acknowledger.Published([acknowledger.Delivered("a"), acknowledger.Delivered("a")]);
        rounds.Complete(rounds.Begin());

        await WaitForAcknowledgementsAsync(1);
        await acknowledger.CompleteAsync(CancellationToken.None);
        Assert.Equal(["new"], _acknowledged);
        Assert.Equal(1, acknowledger.PassedOver);
        Assert.Equal(1, acknowledger.Acknowledged);
    }

    [Fact]
    public void Acknowledging_after_the_checkpoint_needs_checkpoints()
    {
        var error = Assert.Throws<ArgumentException>(() => new MqttAcknowledger(new CheckpointRounds(active: false), _ => true, new ListLogger()));
        Assert.Contains("session store", error.Message, StringComparison.Ordinal);
    }

    private async Task WaitForAcknowledgementsAsync(int count)
    {
        for (var i = 0; i < count; i++) Assert.True(await _acknowledgements.WaitAsync(Wait), $"acknowledgement {i + 1} of {count} did not come");
    }

    /// <summary>A received QoS 1 message whose acknowledgement is recorded under <paramref name="name"/>.</summary>
    private MqttApplicationMessageReceivedEventArgs Message(string name) =>
        new("test", new MqttApplicationMessage { Topic = $"sensors/{name}/reading", QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce },
            new MqttPublishPacket { Topic = $"sensors/{name}/reading", QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce },
            (_, _) =>
            {
                _acknowledged.Enqueue(name);
                _acknowledgements.Release();
                return Task.CompletedTask;
            });
}
