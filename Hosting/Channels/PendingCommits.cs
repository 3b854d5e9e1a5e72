using System.Buffers;
using System.Runtime.InteropServices;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Records;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// One connection's keys whose delivered outputs (records with <c>seq</c>) the session store may not hold yet, and the
/// commit records that tell the client which it does. Follows <see cref="CheckpointRounds"/>: each delivered output is
/// kept with the number of rounds begun at its delivery; when round <c>r</c> is written, a key's highest <c>seq</c>
/// delivered before round <c>r</c> began is committed.
/// <para>
/// Per key it keeps two marks: the highest <c>seq</c> delivered (and the round number at its delivery) and the highest
/// <c>seq</c> delivered before that round number (so a key still being fed while a round runs commits what came before
/// the round). A key whose highest <c>seq</c> is committed leaves the table, so it holds only the keys fed since their
/// last commit. <see cref="Delivered"/> is O(1) and allocates only when a key enters the table. Not thread-safe: the
/// channel calls both methods under its own lock.
/// </para>
/// </summary>
public sealed class PendingCommits
{
    private const long None = -1;

    private readonly Dictionary<string, Marks> _keys = new(StringComparer.Ordinal);

    /// <summary>Keys with an output not yet committed.</summary>
    public int Count => _keys.Count;

    /// <summary>The output of <paramref name="key"/>'s record <paramref name="seq"/> was delivered while <paramref name="begun"/> rounds had begun.</summary>
    public void Delivered(string key, long seq, long begun)
    {
        ref var marks = ref CollectionsMarshal.GetValueRefOrAddDefault(_keys, key, out var known);
        if (!known)
        {
            marks = new Marks { Highest = seq, HighestRound = begun, Earlier = None, EarlierRound = None, Reported = long.MinValue };
            return;
        }

        if (begun != marks.HighestRound)
        {
            // Everything so far was delivered while fewer rounds had begun.
            marks.Earlier = marks.Highest;
            marks.EarlierRound = marks.HighestRound;
            marks.HighestRound = begun;
        }

        if (seq > marks.Highest) marks.Highest = seq;
    }

    /// <summary>
    /// Round <paramref name="round"/> is written: writes one commit record per key with a newly covered <c>seq</c> into
    /// <paramref name="output"/> and returns how many. Keys whose outputs came after the round began are not named.
    /// </summary>
    public int Commit(long round, IBufferWriter<byte> output)
    {
        var written = 0;
        foreach (var (key, marks) in _keys)
        {
            long covered;
            if (marks.HighestRound < round)
            {
                if (marks.Highest > marks.Reported)
                {
                    NdjsonOutputFormatter.WriteCommit(key, marks.Highest, output);
                    written++;
                }

                _keys.Remove(key);
                continue;
            }

            if (marks.EarlierRound == None || marks.EarlierRound >= round || (covered = marks.Earlier) <= marks.Reported) continue;
            NdjsonOutputFormatter.WriteCommit(key, covered, output);
            CollectionsMarshal.GetValueRefOrNullRef(_keys, key).Reported = covered;
            written++;
        }

        return written;
    }

    private struct Marks
    {
        public long Highest;
        public long HighestRound;
        public long Earlier;
        public long EarlierRound;
        public long Reported;
    }
}
