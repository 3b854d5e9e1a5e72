namespace LstmStream.Pipeline.Flows;

/// <summary>
/// One step's result inside an <see cref="LstmResultBatch"/>, without an object of its own: what the step became
/// (<see cref="Kind"/>), its key and seq, and for an output the model's output <see cref="Y"/> as a slice of the batch's
/// one output block. <see cref="ToResult"/> gives the per-record flow's <see cref="LstmResult"/> (copying <c>Y</c>).
/// </summary>
public readonly struct LstmResultRow
{
    internal LstmResultRow(LstmResultKind kind, string? key, long? seq, ReadOnlyMemory<float> y, LstmStepRejected? rejection)
    {
        Kind = kind;
        Key = key;
        Seq = seq;
        Y = y;
        Rejection = rejection;
    }

    /// <summary>Output, duplicate or rejected.</summary>
    public LstmResultKind Kind { get; }

    /// <summary>The step's key (null only for a rejected step that had none).</summary>
    public string? Key { get; }

    /// <summary>The step's <see cref="LstmStep.Seq"/>.</summary>
    public long? Seq { get; }

    /// <summary>
    /// For an <see cref="LstmResultKind.Output"/>: the model's output (<c>LstmModel.OutputSize</c> values), a slice of
    /// the batch's output block, which belongs to the receiver and is never reused by the flow (keep it as long as
    /// needed; holding one row's slice keeps the whole block alive: copy it with <c>ToArray()</c> to keep only the row).
    /// Empty for the other kinds.
    /// </summary>
    public ReadOnlyMemory<float> Y { get; }

    /// <summary>For <see cref="LstmResultKind.Rejected"/>: what was wrong and where; null otherwise.</summary>
    public LstmStepRejected? Rejection { get; }

    /// <summary>This row as the per-record flow emits it: an <see cref="LstmOutput"/> (with its own copy of <see cref="Y"/>), an <see cref="LstmDuplicate"/> or the <see cref="LstmStepRejected"/>.</summary>
    public LstmResult ToResult() => Kind switch
    {
        LstmResultKind.Output => new LstmOutput(Key!, Seq, Y.ToArray()),
        LstmResultKind.Duplicate => new LstmDuplicate(Key!, Seq!.Value),
        _ => Rejection!,
    };

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        LstmResultKind.Output => $"{Key}{(Seq is { } s ? $" #{s}" : "")}: [{string.Join(", ", Y.ToArray())}]",
        LstmResultKind.Duplicate => $"{Key} #{Seq}: duplicate",
        _ => Rejection!.ToString(),
    };
}
