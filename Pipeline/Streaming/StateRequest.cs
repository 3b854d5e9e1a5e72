namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// A state or session request travelling through the pipeline inside a control <see cref="StepBatch"/>.
/// The session stage fills <see cref="Slots"/> (-1: the key is not live) and acts on the session table
/// (import creates keys, drop and export with removal free them, counts are read), each layer stage copies
/// its rows out of (export) or into (import) its arena or zeroes them (reset), and the pipeline's control
/// stage completes <see cref="Completion"/> when the batch comes out at the end. Only one stage touches it
/// at a time (it moves with the batch), so it needs no locking.
/// </summary>
internal sealed class StateRequest
{
    private StateRequest(StateRequestKind kind, string[] keys, KeyState[] states, bool remove)
    {
        Kind = kind;
        Keys = keys;
        States = states;
        Remove = remove;
        Slots = new int[keys.Length];
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
        return new StateRequest(StateRequestKind.Export, KeysOf(states), states, remove);
    }

    /// <summary>An import of <paramref name="states"/> (already validated against the model).</summary>
    public static StateRequest Import(IReadOnlyList<KeyState> states)
    {
        var copy = states.ToArray();
        return new StateRequest(StateRequestKind.Import, KeysOf(copy), copy, remove: false);
    }

    /// <summary>Zeroes the state of those of <paramref name="keys"/> that are live.</summary>
    public static StateRequest Reset(IReadOnlyList<string> keys) => new(StateRequestKind.Reset, keys.ToArray(), [], remove: false);

    /// <summary>Frees those of <paramref name="keys"/> that are live.</summary>
    public static StateRequest Drop(IReadOnlyList<string> keys) => new(StateRequestKind.Drop, keys.ToArray(), [], remove: true);

    /// <summary>Reads the session figures in stream order.</summary>
    public static StateRequest CountsRequest() => new(StateRequestKind.Counts, [], [], remove: false);

    /// <summary>Exports the changed keys of <paramref name="bucket"/> to the session store (the session stage names them).</summary>
    public static StateRequest Checkpoint(int bucket) => new(StateRequestKind.Checkpoint, [], [], remove: false) { Bucket = bucket };

    /// <summary>Exports the changed keys of <paramref name="bucket"/> to the session store and frees every live key of it.</summary>
    public static StateRequest HandOff(int bucket) => new(StateRequestKind.HandOff, [], [], remove: true) { Bucket = bucket };

    /// <summary>Names the buckets with changed keys.</summary>
    public static StateRequest DirtyBucketsRequest() => new(StateRequestKind.DirtyBuckets, [], [], remove: false);

    /// <summary>The session stage's own carrier of a transfer (no keys, never answered).</summary>
    public static StateRequest TransferOnly() => new(StateRequestKind.Transfer, [], [], remove: false);

    /// <summary>
    /// Checkpoint: the session stage names the keys to export (every live key of the bucket), with their slots and
    /// states to fill, and how many of them changed since the bucket's previous checkpoint.
    /// </summary>
    public void SetExport(string[] keys, int[] slots, KeyState[] states, int changed)
    {
        Keys = keys;
        Slots = slots;
        States = states;
        Changed = changed;
    }

    private static string[] KeysOf(KeyState[] states)
    {
        var keys = new string[states.Length];
        for (var i = 0; i < states.Length; i++) keys[i] = states[i].Key;
        return keys;
    }

    public StateRequestKind Kind { get; }
    public string[] Keys { get; private set; }

    /// <summary>Export and checkpoint: the states being filled; import: the states to write; otherwise empty.</summary>
    public KeyState[] States { get; private set; }

    /// <summary>True for the kinds whose states the layers fill (export, checkpoint).</summary>
    public bool Exports => Kind is StateRequestKind.Export or StateRequestKind.Checkpoint or StateRequestKind.HandOff;

    /// <summary>True for the kinds whose exported states go to the session store (checkpoint, hand-off).</summary>
    public bool ExportsToStore => Kind is StateRequestKind.Checkpoint or StateRequestKind.HandOff;

    /// <summary>Hand-off: the live keys of the bucket that were freed, set by the session stage.</summary>
    public int Dropped { get; set; }

    /// <summary>Checkpoint and hand-off: the bucket exported.</summary>
    public int Bucket { get; private init; }

    /// <summary>Checkpoint: how many of the exported keys changed since the bucket's previous checkpoint.</summary>
    public int Changed { get; private set; }

    /// <summary>Dirty buckets: the buckets with changed keys, set by the session stage.</summary>
    public List<int> Buckets { get; } = [];

    /// <summary>Export and drop: the keys are dropped (their slots freed) after being read, as by <c>end</c>.</summary>
    public bool Remove { get; }

    /// <summary>Each key's slot, set by the session stage; -1 when the key is not live.</summary>
    public int[] Slots { get; private set; }

    /// <summary>Counts request: the figures, set by the session stage.</summary>
    public SessionCounts Counts { get; set; }

    /// <summary>Set by a stage that refused the request; later stages then leave it alone.</summary>
    public string? Error { get; set; }

    /// <summary>Completes when the request has passed every stage; the results are then in this request.</summary>
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes the request once it has passed every stage.</summary>
    public void Finish()
    {
        if (Error is not null) Completion.TrySetException(new InvalidOperationException(Error));
        else Completion.TrySetResult();
    }

    /// <summary>Export: the states of the keys that were live, in the order asked.</summary>
    public IReadOnlyList<KeyState> FoundStates()
    {
        var found = new List<KeyState>(States.Length);
        for (var i = 0; i < States.Length; i++)
        {
            if (Slots[i] >= 0) found.Add(States[i]);
        }

        return found;
    }

    /// <summary>Reset and drop: the keys that were live, in the order asked.</summary>
    public IReadOnlyList<string> FoundKeys()
    {
        var found = new List<string>(Keys.Length);
        for (var i = 0; i < Keys.Length; i++)
        {
            if (Slots[i] >= 0) found.Add(Keys[i]);
        }

        return found;
    }
}
