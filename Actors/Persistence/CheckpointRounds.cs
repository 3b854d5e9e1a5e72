using Akka.Actor;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Numbers the checkpoints as they begin and tells the sources which ones are fully written, so a source acknowledges
/// (MQTT) or commits (TCP) exactly what a written checkpoint covers.
/// <para>
/// The rule a source follows: when a record's output is delivered (its step applied to every layer's state), read
/// <see cref="Begun"/> and keep that number with the record. When <see cref="Committed"/> reports round <c>r</c>, every
/// record kept with a number below <c>r</c> is in the store: its output came out before round <c>r</c> began, so round
/// <c>r</c>'s exports (taken through the stream after it began) hold its effect. A round in which any bucket could not be
/// written reports nothing; the next written round covers what it would have. Records still waiting (for a restore, in
/// the inbox) have no output yet and are never covered early.
/// </para>
/// <para>
/// Cluster mode: a record another node (its bucket's owner) stepped is stored only once the owner's round covering its
/// step is written. The outputs coming back are registered (<see cref="RoutedDelivered"/>, before the sources see them) with
/// the owner's <see cref="Begun"/> at the step, the owners report the rounds they write (<see cref="OwnerWrote"/>; this
/// node's own written rounds are raised as <see cref="Written"/> for the nodes it stepped records for), and a written round
/// is <see cref="Committed"/> only once every owner has written what the outputs delivered before it began need
/// (<see cref="OwnerCheckpoints"/>). Without routed outputs nothing changes: a written round is committed at once.
/// </para>
/// <para>
/// Without a session store (<see cref="Active"/> false) no round ever begins: sources acknowledge at once.
/// <see cref="Committed"/> and <see cref="Written"/> are raised on the thread that completed a round or reported an
/// owner's: handlers only hand the number on (they must not block or throw).
/// </para>
/// </summary>
public sealed class CheckpointRounds(bool active)
{
    private readonly object _gate = new();
    private readonly OwnerCheckpoints _owners = new();
    private readonly List<Func<Task>> _replays = [];
    private long _begun;
    private long _written;
    private long _lastCommitted;

    /// <summary>Checkpoints are taken (a session store is configured), so a source may wait for them.</summary>
    public bool Active { get; } = active;

    /// <summary>How many checkpoint rounds have begun (0 before the first).</summary>
    public long Begun => Interlocked.Read(ref _begun);

    /// <summary>The number of the last round committed (written here and by the owners it waited for), 0 before the first.</summary>
    public long LastCommitted => Interlocked.Read(ref _lastCommitted);

    /// <summary>Round <c>r</c> is committed: every record kept with a number below <c>r</c> is covered.</summary>
    public event Action<long>? Committed;

    /// <summary>This node wrote every bucket of round <c>r</c> (cluster mode: told to the nodes whose records it stepped).</summary>
    public event Action<long>? Written;

    /// <summary>The coordinator begins a round (before it asks the pipeline anything); returns its number.</summary>
    public long Begin()
    {
        lock (_gate)
        {
            var round = Interlocked.Increment(ref _begun);
            _owners.RoundBegan(round);
            return round;
        }
    }

    /// <summary>The coordinator wrote every bucket of round <paramref name="round"/>.</summary>
    public void Complete(long round)
    {
        lock (_gate)
        {
            if (round <= _written) return;
            _written = round;
        }

        Written?.Invoke(round);
        Publish();
    }

    /// <summary>
    /// Cluster mode, before the sources see them: outputs stepped on <paramref name="owner"/> (the actor they came from)
    /// while <paramref name="ownerBegun"/> of its rounds had begun.
    /// </summary>
    public void RoutedDelivered(IActorRef owner, long ownerBegun)
    {
        lock (_gate) _owners.Delivered(owner, ownerBegun);
    }

    /// <summary>Cluster mode: <paramref name="owner"/> wrote its round <paramref name="round"/>.</summary>
    public void OwnerWrote(IActorRef owner, long round)
    {
        lock (_gate) _owners.Wrote(owner, round);
        Publish();
    }

    /// <summary>
    /// Cluster mode: a source registers how it makes its clients deliver again what it has not acknowledged or committed
    /// (MQTT: a new connection, on which the broker delivers the unacknowledged readings again; TCP: its connections closed,
    /// so replaying clients resend what is not committed). Run when an owner leaves before storing what was delivered here.
    /// </summary>
    public void OnOwnerLost(Func<Task> replay)
    {
        ArgumentNullException.ThrowIfNull(replay);
        lock (_gate) _replays.Add(replay);
    }

    /// <summary>
    /// Cluster mode: the node at <paramref name="node"/> left the cluster; it will never write what it stepped for this node
    /// since its last written round. When anything delivered here waits on it, every source first makes its clients deliver
    /// again what it has not acknowledged or committed (<see cref="OnOwnerLost"/>; the owner's successor answers what its
    /// checkpoint holds as duplicates by <c>seq</c>), then it is not waited for any more. Returns how many rounds waited on
    /// it (0: nothing delivered here depended on it, and no source was disturbed).
    /// </summary>
    public async Task<int> OwnerGoneAsync(Address node)
    {
        Func<Task>[] replays;
        lock (_gate) replays = _owners.Waiting(node) > 0 ? [.. _replays] : [];
        if (replays.Length > 0) await Task.WhenAll(replays.Select(replay => replay())).ConfigureAwait(false);
        int waited;
        lock (_gate) waited = _owners.Forget(node);
        Publish();
        return Math.Max(waited, replays.Length > 0 ? 1 : 0);
    }

    private void Publish()
    {
        lock (_gate)
        {
            var covered = _owners.CoveredThrough(_written);
            if (covered <= _lastCommitted) return;
            Interlocked.Exchange(ref _lastCommitted, covered);
            Committed?.Invoke(covered);
        }
    }
}
