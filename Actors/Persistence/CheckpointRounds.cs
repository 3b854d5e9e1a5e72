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
/// Without a session store (<see cref="Active"/> false) no round ever begins: sources acknowledge at once.
/// <see cref="Committed"/> is raised on the checkpoint coordinator's thread: handlers only hand the number on
/// (they must not block or throw).
/// </para>
/// </summary>
public sealed class CheckpointRounds(bool active)
{
    private long _begun;
    private long _lastCommitted;

    /// <summary>Checkpoints are taken (a session store is configured), so a source may wait for them.</summary>
    public bool Active { get; } = active;

    /// <summary>How many checkpoint rounds have begun (0 before the first).</summary>
    public long Begun => Interlocked.Read(ref _begun);

    /// <summary>The number of the last round fully written, 0 before the first.</summary>
    public long LastCommitted => Interlocked.Read(ref _lastCommitted);

    /// <summary>Round <c>r</c> is written: every record kept with a number below <c>r</c> is covered.</summary>
    public event Action<long>? Committed;

    /// <summary>The coordinator begins a round (before it asks the pipeline anything); returns its number.</summary>
    public long Begin() => Interlocked.Increment(ref _begun);

    /// <summary>The coordinator wrote every bucket of round <paramref name="round"/>.</summary>
    public void Complete(long round)
    {
        if (round <= Interlocked.Read(ref _lastCommitted)) return;
        Interlocked.Exchange(ref _lastCommitted, round);
        Committed?.Invoke(round);
    }
}
