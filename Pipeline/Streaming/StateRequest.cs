namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// A state export or import travelling through the pipeline inside a control <see cref="StepBatch"/>.
/// The session stage fills <see cref="Slots"/> (-1: the key is not live), each layer stage copies its
/// rows out of (export) or into (import) its arena, and the pipeline's control stage completes
/// <see cref="Completion"/> when the batch comes out at the end. Only one stage touches it at a time
/// (it moves with the batch), so it needs no locking.
/// </summary>
internal sealed class StateRequest
{
    private StateRequest(StateRequestKind kind, KeyState[] states, bool remove)
    {
        Kind = kind;
        States = states;
        Remove = remove;
        Keys = new string[states.Length];
        for (var i = 0; i < states.Length; i++) Keys[i] = states[i].Key;
        Slots = new int[states.Length];
        Array.Fill(Slots, -1);
    }

    /// <summary>
    /// An export of <paramref name="keys"/>: <see cref="States"/> is pre-built with one empty row array per
    /// layer, which the layer stages fill.
    /// </summary>
    public static StateRequest Export(string modelIdentity, int layerCount, IReadOnlyList<string> keys, bool remove)
    {
        var states = new KeyState[keys.Count];
        for (var i = 0; i < states.Length; i++)
            states[i] = new KeyState(modelIdentity, keys[i], new float[layerCount][], new float[layerCount][]);
        return new StateRequest(StateRequestKind.Export, states, remove);
    }

    /// <summary>An import of <paramref name="states"/> (already validated against the model).</summary>
    public static StateRequest Import(IReadOnlyList<KeyState> states) =>
        new(StateRequestKind.Import, states.ToArray(), remove: false);

    public StateRequestKind Kind { get; }
    public string[] Keys { get; }
    public KeyState[] States { get; }

    /// <summary>Export only: the keys are dropped (their slots freed) after being read, as by <c>end</c>.</summary>
    public bool Remove { get; }

    /// <summary>Each key's slot, set by the session stage; -1 when an exported key is not live.</summary>
    public int[] Slots { get; }

    /// <summary>Set by a stage that refused the request; later stages then leave it alone.</summary>
    public string? Error { get; set; }

    public TaskCompletionSource<IReadOnlyList<KeyState>> Completion { get; } =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes the request once it has passed every stage.</summary>
    public void Finish()
    {
        if (Error is not null)
        {
            Completion.TrySetException(new InvalidOperationException(Error));
            return;
        }

        if (Kind == StateRequestKind.Import)
        {
            Completion.TrySetResult(States);
            return;
        }

        var found = new List<KeyState>(States.Length);
        for (var i = 0; i < States.Length; i++)
        {
            if (Slots[i] >= 0) found.Add(States[i]);
        }

        Completion.TrySetResult(found);
    }
}
