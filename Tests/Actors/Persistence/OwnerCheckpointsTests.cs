using Akka.Actor;
using LstmStream.Actors.Persistence;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>
/// Cluster mode: a node's written checkpoint rounds are reported to its sources only once the nodes that stepped its records
/// (their buckets' owners) have written the rounds covering those steps (<see cref="OwnerCheckpoints"/>, <see cref="CheckpointRounds"/>).
/// </summary>
public sealed class OwnerCheckpointsTests
{
    private static readonly Address NodeB = new("akka.tcp", "lstmstream", "127.0.0.1", 4054);
    private static readonly Address NodeC = new("akka.tcp", "lstmstream", "127.0.0.1", 4055);
    private readonly OwnerActorRef _b = new(NodeB, 1);
    private readonly OwnerActorRef _c = new(NodeC, 1);

    [Fact]
    public void Without_routed_outputs_a_written_round_is_covered_at_once()
    {
        var owners = new OwnerCheckpoints();
        owners.RoundBegan(1);
        owners.RoundBegan(2);
        Assert.Equal(1, owners.CoveredThrough(1));
        Assert.Equal(2, owners.CoveredThrough(2));
    }

    [Fact]
    public void A_round_waits_until_every_owner_wrote_a_round_above_the_stamp_of_the_outputs_delivered_before_it_began()
    {
        var owners = new OwnerCheckpoints();
        owners.Delivered(_b, 4);
        owners.Delivered(_c, 9);
        owners.Delivered(_b, 5);
        owners.RoundBegan(1);

        Assert.Equal(0, owners.CoveredThrough(1));
        owners.Wrote(_b, 5); // began before the step of stamp 5: does not hold it
        owners.Wrote(_c, 10);
        Assert.Equal(0, owners.CoveredThrough(1));
        owners.Wrote(_b, 6);
        Assert.Equal(1, owners.CoveredThrough(1));
        Assert.Equal(0, owners.RoundsWaiting);
    }

    [Fact]
    public void Outputs_delivered_after_a_round_began_hold_back_only_the_later_rounds()
    {
        var owners = new OwnerCheckpoints();
        owners.RoundBegan(1);
        owners.Delivered(_b, 3);
        owners.RoundBegan(2);
        owners.RoundBegan(3);

        // Round 1 began before anything was delivered; rounds 2 and 3 need B's round 4.
        Assert.Equal(1, owners.CoveredThrough(3));
        owners.Wrote(_b, 4);
        Assert.Equal(2, owners.CoveredThrough(2));
        Assert.Equal(3, owners.CoveredThrough(3));
    }

    [Fact]
    public void An_owner_that_left_the_cluster_is_not_waited_for_and_the_rounds_that_waited_on_it_are_counted()
    {
        var owners = new OwnerCheckpoints();
        owners.Delivered(_b, 2);
        owners.Delivered(_c, 2);
        owners.RoundBegan(1);
        owners.RoundBegan(2);
        owners.Wrote(_c, 3);

        Assert.Equal(0, owners.Forget(NodeC));
        Assert.Equal(0, owners.CoveredThrough(2));
        Assert.Equal(2, owners.Forget(NodeB));
        Assert.Equal(2, owners.CoveredThrough(2));
    }

    [Fact]
    public void A_restarted_owner_is_another_owner_whose_rounds_count_from_the_start()
    {
        var owners = new OwnerCheckpoints();
        var restarted = new OwnerActorRef(NodeB, 2);
        owners.Delivered(_b, 50);
        owners.Delivered(restarted, 1);
        owners.RoundBegan(1);
        owners.Wrote(restarted, 2);
        Assert.Equal(0, owners.CoveredThrough(1));
        owners.Wrote(_b, 51);
        Assert.Equal(1, owners.CoveredThrough(1));
    }

    [Fact]
    public void Checkpoint_rounds_raise_their_own_writes_at_once_and_commit_only_once_the_owners_wrote()
    {
        var rounds = new CheckpointRounds(active: true);
        var written = new List<long>();
        var committed = new List<long>();
        rounds.Written += written.Add;
        rounds.Committed += committed.Add;

        rounds.RoutedDelivered(_b, 0);
        var first = rounds.Begin();
        rounds.Complete(first);
        Assert.Equal([first], written);
        Assert.Empty(committed);
        Assert.Equal(0, rounds.LastCommitted);

        var second = rounds.Begin();
        rounds.Complete(second);
        rounds.OwnerWrote(_b, 1);
        Assert.Equal([second], committed);
        Assert.Equal(second, rounds.LastCommitted);
    }

    [Fact]
    public async Task When_an_owner_leaves_before_storing_what_was_delivered_the_sources_replay_first_and_only_then_the_round_is_committed()
    {
        var rounds = new CheckpointRounds(active: true);
        var events = new List<string>();
        var replaying = new TaskCompletionSource();
        rounds.Committed += round => events.Add($"committed {round}");
        rounds.OnOwnerLost(async () =>
        {
            events.Add("replay");
            await replaying.Task;
            events.Add("replayed");
        });
        rounds.RoutedDelivered(_b, 3);
        rounds.Complete(rounds.Begin());
        Assert.Equal(0, rounds.LastCommitted);

        var gone = rounds.OwnerGoneAsync(NodeB);
        Assert.Equal(["replay"], events);
        Assert.Equal(0, rounds.LastCommitted);
        replaying.SetResult();
        Assert.Equal(1, await gone);
        Assert.Equal(["replay", "replayed", "committed 1"], events);
        Assert.Equal(1, rounds.LastCommitted);
    }

    [Fact]
    public async Task An_owner_leaving_with_nothing_delivered_here_unstored_disturbs_no_source()
    {
        var rounds = new CheckpointRounds(active: true);
        var replays = 0;
        rounds.OnOwnerLost(() =>
        {
            replays++;
            return Task.CompletedTask;
        });
        rounds.RoutedDelivered(_b, 3);
        rounds.OwnerWrote(_b, 4);
        rounds.Complete(rounds.Begin());
        Assert.Equal(1, rounds.LastCommitted);

        Assert.Equal(0, await rounds.OwnerGoneAsync(NodeB));
        Assert.Equal(0, await rounds.OwnerGoneAsync(NodeC));
        Assert.Equal(0, replays);
    }
}
