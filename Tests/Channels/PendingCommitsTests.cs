using System.Buffers;
using System.Text;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Channels;

namespace LstmStream.Tests.Channels;

public sealed class PendingCommitsTests
{
    [Fact]
    public void Only_keys_whose_outputs_came_before_the_round_began_are_committed()
    {
        var rounds = new CheckpointRounds(active: true);
        var commits = new PendingCommits();
        commits.Delivered("a", 1, rounds.Begun);
        var round = rounds.Begin();
        commits.Delivered("b", 7, rounds.Begun);

        Assert.Equal(["{\"key\":\"a\",\"committed\":1}"], Commit(commits, round));
        Assert.Equal(1, commits.Count);
        Assert.Equal(["{\"key\":\"b\",\"committed\":7}"], Commit(commits, rounds.Begin()));
        Assert.Equal(0, commits.Count);
    }

    [Fact]
    public void A_key_commits_the_highest_seq_delivered_once_and_leaves_the_table()
    {
        var commits = new PendingCommits();
        commits.Delivered("k", 3, 0);
        commits.Delivered("k", 9, 0);
        commits.Delivered("k", 5, 0); // a duplicate answered after a resend: below what the state holds

        Assert.Equal(["{\"key\":\"k\",\"committed\":9}"], Commit(commits, 1));
        Assert.Empty(Commit(commits, 2));
        Assert.Equal(0, commits.Count);
    }

    [Fact]
    public void A_key_fed_while_a_round_runs_commits_what_came_before_the_round_and_the_rest_with_the_next()
    {
        var commits = new PendingCommits();
        commits.Delivered("k", 1, 0);
        commits.Delivered("k", 2, 0);
        commits.Delivered("k", 3, 1); // round 1 began before this output
        commits.Delivered("k", 4, 1);

        Assert.Equal(["{\"key\":\"k\",\"committed\":2}"], Commit(commits, 1));
        Assert.Empty(Commit(commits, 1));
        Assert.Equal(["{\"key\":\"k\",\"committed\":4}"], Commit(commits, 2));
    }

    [Fact]
    public void A_failed_round_commits_nothing_and_the_next_written_round_covers_its_records()
    {
        var rounds = new CheckpointRounds(active: true);
        var commits = new PendingCommits();
        var written = new List<string>();
        rounds.Committed += round => written.AddRange(Commit(commits, round));
        commits.Delivered("k", 1, rounds.Begun);
        rounds.Begin(); // round 1 fails: the coordinator never completes it
        commits.Delivered("k", 2, rounds.Begun);
        Assert.Empty(written);

        rounds.Complete(rounds.Begin());
        Assert.Equal(["{\"key\":\"k\",\"committed\":2}"], written);
    }

    [Fact]
    public void Keys_are_written_as_json_strings()
    {
        var commits = new PendingCommits();
        commits.Delivered("a\"b\\c\n", 4, 0);

        Assert.Equal(["{\"key\":\"a\\\"b\\\\c\\n\",\"committed\":4}"], Commit(commits, 1));
    }

    private static string[] Commit(PendingCommits commits, long round)
    {
        var output = new ArrayBufferWriter<byte>();
        var count = commits.Commit(round, output);
        var lines = Encoding.UTF8.GetString(output.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(count, lines.Length);
        return lines;
    }
}
