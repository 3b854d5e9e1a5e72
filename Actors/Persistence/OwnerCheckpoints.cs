using Akka.Actor;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Cluster mode, on a node whose channels accepted records that other nodes (their buckets' owners) stepped: which of this
/// node's checkpoint rounds may be reported to its sources (MQTT acknowledgement, TCP commit records), given what the
/// owners have written. A record's state lives on its owner, so it is in the store only once the owner's checkpoint round
/// covering its step is written, whatever this node's own rounds did.
/// <para>
/// The owner stamps each batch of outputs it sends back with the number of its rounds begun at that moment
/// (<see cref="CheckpointRounds.Begun"/> there, the <see cref="CheckpointRounds"/> rule), and tells this node every round it
/// writes. Here (<see cref="Delivered"/>) the highest stamp per owner is kept; when a local round begins
/// (<see cref="RoundBegan"/>), the stamps not yet covered are its needs: every output delivered before the round began
/// (kept with a lower local number by the sources) is then covered once the round is written here **and** each owner in
/// its needs has written a round above its stamp (<see cref="CoveredThrough"/>). Needs only grow from round to round, so a
/// round's are met only if every earlier round's are. An owner that leaves the cluster (<see cref="Forget"/>) will write
/// nothing more: its needs are dropped, and the caller logs what may be lost.
/// </para>
/// <para>Not thread-safe: <see cref="CheckpointRounds"/> calls it under its lock. Owners are named by the actor their outputs
/// come from (a restarted node's is another: its rounds count from 0 again).</para>
/// </summary>
public sealed class OwnerCheckpoints
{
    private readonly Dictionary<IActorRef, long> _stamps = [];
    private readonly Dictionary<IActorRef, long> _written = [];
    private readonly Queue<(long Round, (IActorRef Owner, long Stamp)[] Needs)> _rounds = new();
    private long _coveredThrough;

    /// <summary>Local rounds begun whose needs are not known to be met yet.</summary>
    public int RoundsWaiting => _rounds.Count;

    /// <summary>Outputs of records stepped on <paramref name="owner"/> while <paramref name="stamp"/> of its rounds had begun are about to be delivered here.</summary>
    public void Delivered(IActorRef owner, long stamp)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (!_stamps.TryGetValue(owner, out var known) || stamp > known) _stamps[owner] = stamp;
    }

    /// <summary>Local round <paramref name="round"/> begins: the owners' stamps not yet covered become its needs.</summary>
    public void RoundBegan(long round)
    {
        List<(IActorRef, long)>? needs = null;
        List<IActorRef>? covered = null;
        foreach (var (owner, stamp) in _stamps)
        {
            if (IsCovered(owner, stamp)) (covered ??= []).Add(owner);
            else (needs ??= []).Add((owner, stamp));
        }

        // A covered stamp needs nothing more; the owner's next delivery brings a new one.
        if (covered is not null) foreach (var owner in covered) _stamps.Remove(owner);
        _rounds.Enqueue((round, needs is null ? [] : [.. needs]));
    }

    /// <summary><paramref name="owner"/> wrote its round <paramref name="round"/>: what it stepped while fewer had begun is stored.</summary>
    public void Wrote(IActorRef owner, long round)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (!_written.TryGetValue(owner, out var known) || round > known) _written[owner] = round;
    }

    /// <summary>How many local rounds wait on owners at <paramref name="node"/> (stamps they have not covered yet).</summary>
    public int Waiting(Address node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var stamped = _stamps.Any(s => s.Key.Path.Address == node && !IsCovered(s.Key, s.Value)) ? 1 : 0;
        return Math.Max(stamped, _rounds.Count(r => r.Needs.Any(n => n.Owner.Path.Address == node && !IsCovered(n.Owner, n.Stamp))));
    }

    /// <summary>
    /// The owners on <paramref name="node"/> left the cluster: nothing they stepped will be stored by them any more, so their
    /// needs are dropped. Returns how many local rounds waited on them (0: nothing delivered here depended on them).
    /// </summary>
    public int Forget(Address node)
    {
        var waited = Waiting(node);
        foreach (var owner in _stamps.Keys.Concat(_written.Keys).Concat(_rounds.SelectMany(r => r.Needs.Select(n => n.Owner))).Distinct().ToList())
        {
            if (owner.Path.Address != node) continue;
            _stamps.Remove(owner);
            _written[owner] = long.MaxValue;
        }

        return waited;
    }

    /// <summary>
    /// The highest local round whose records are stored everywhere, given that this node's rounds up to
    /// <paramref name="written"/> are written (a written round covers the earlier ones). Never decreases.
    /// </summary>
    public long CoveredThrough(long written)
    {
        while (_rounds.TryPeek(out var front) && front.Round <= written && front.Needs.All(n => IsCovered(n.Owner, n.Stamp)))
        {
            _coveredThrough = front.Round;
            _rounds.Dequeue();
        }

        // Rounds that began before anything was delivered here wait for nothing.
        if (_rounds.Count == 0 && written > _coveredThrough) _coveredThrough = written;
        if (_written.Count > 0 && _rounds.Count == 0) PruneGone();
        return _coveredThrough;
    }

    private bool IsCovered(IActorRef owner, long stamp) => _written.TryGetValue(owner, out var round) && round > stamp;

    /// <summary>Owners forgotten and no longer named by any round: nothing to keep about them.</summary>
    private void PruneGone()
    {
        List<IActorRef>? gone = null;
        foreach (var (owner, round) in _written)
            if (round == long.MaxValue && !_stamps.ContainsKey(owner)) (gone ??= []).Add(owner);
        if (gone is not null) foreach (var owner in gone) _written.Remove(owner);
    }
}
