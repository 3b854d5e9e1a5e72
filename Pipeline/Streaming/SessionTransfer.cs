namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// What moves between the pipeline's state arenas and its <see cref="ISessionStore"/> with one stream item
/// (durable sessions): the session stage attaches it to the next item it emits (<see cref="StepBatch.Transfer"/>),
/// every layer stage first copies its rows of the <see cref="Evicted"/> keys out (before their slots are used
/// again) and writes the <see cref="Restored"/> keys' rows in (before they are stepped), and the control stage at
/// the pipeline's end hands the evicted states and the <see cref="Deleted"/> keys to the store, in stream order,
/// then marks the transfer <see cref="Accepted"/>. Until then the session stage does not load those keys again
/// (the store would not have their latest word yet). It moves with its item, so one stage touches it at a time.
/// </summary>
internal sealed class SessionTransfer
{
    private volatile bool _accepted;

    /// <param name="onAccepted">Called (on the control stage's thread) once the store has the changes; null: no one is told.</param>
    public SessionTransfer(Action? onAccepted) => OnAccepted = onAccepted;

    /// <summary>Keys evicted to the store: each slot's rows are copied into its state's C and H by the layers.</summary>
    public List<(int Slot, KeyState State)> Evicted { get; } = [];

    /// <summary>Keys restored from the store: each state is written into its new slot by the layers.</summary>
    public List<(int Slot, KeyState State)> Restored { get; } = [];

    /// <summary>Keys whose stored state is to be deleted (ended, dropped, evicted with discard).</summary>
    public List<string> Deleted { get; } = [];

    /// <summary>True once the store has been handed the changes.</summary>
    public bool Accepted => _accepted;

    private Action? OnAccepted { get; }

    /// <summary>True when the store has something to take (states to save or keys to delete).</summary>
    public bool HasChanges => Evicted.Count > 0 || Deleted.Count > 0;

    /// <summary>The changes for <see cref="ISessionStore.Accept"/>.</summary>
    public SessionChanges Changes()
    {
        var states = new KeyState[Evicted.Count];
        for (var i = 0; i < states.Length; i++) states[i] = Evicted[i].State;
        return new SessionChanges(states, Deleted.ToArray(), null);
    }

    /// <summary>The store has the changes (called once, by the control stage).</summary>
    public void MarkAccepted()
    {
        _accepted = true;
        if (HasChanges) OnAccepted?.Invoke();
    }
}
