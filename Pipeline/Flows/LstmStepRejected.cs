namespace LstmStream.Pipeline.Flows;

/// <summary>
/// A step that was not run because it was invalid, with what was wrong and where, as the command line reports
/// a bad input line: the step's 1-based <see cref="Position"/> in the flow's input, its key when it had one,
/// the <see cref="Field"/> at fault (<c>key</c> or <c>x</c>) and a human-readable <see cref="Reason"/>. The
/// key's state is untouched, and every other step goes on.
/// </summary>
public sealed record LstmStepRejected : LstmResult
{
    /// <param name="position">The step's 1-based position among all steps the flow took in.</param>
    /// <param name="key">The step's key; null when it had none.</param>
    /// <param name="seq">The step's <see cref="LstmStep.Seq"/>.</param>
    /// <param name="field">The field at fault (<c>key</c>, <c>x</c>).</param>
    /// <param name="reason">Why the step was rejected.</param>
    public LstmStepRejected(long position, string? key, long? seq, string field, string reason)
        : base(key, seq)
    {
        ArgumentNullException.ThrowIfNull(field);
        ArgumentNullException.ThrowIfNull(reason);
        Position = position;
        Field = field;
        Reason = reason;
    }

    /// <summary>The step's 1-based position among all steps the flow took in.</summary>
    public long Position { get; }

    /// <summary>The field at fault: <c>key</c> or <c>x</c> (<see cref="Records.RecordFields"/>).</summary>
    public string Field { get; }

    /// <summary>Why the step was rejected, e.g. <c>has 3 values, the model's input size is 16</c>.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"step {Position}{(Key is null ? "" : $", key '{Key}'")}{(Seq is { } s ? $", seq {s}" : "")}, field '{Field}': {Reason}";
}
