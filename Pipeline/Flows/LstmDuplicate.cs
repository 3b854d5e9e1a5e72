namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The answer to a step whose <see cref="LstmStep.Seq"/> was not above its key's last applied <c>seq</c>: a replay
/// of a step the key's state already covers. It was not applied (the key's state is unchanged) and has no output.
/// </summary>
public sealed record LstmDuplicate : LstmResult
{
    /// <param name="key">The step's key.</param>
    /// <param name="seq">The step's <see cref="LstmStep.Seq"/>.</param>
    public LstmDuplicate(string key, long seq)
        : base(key, seq)
    {
        ArgumentNullException.ThrowIfNull(key);
    }

    /// <summary>The step's key.</summary>
    public new string Key => base.Key!;

    /// <summary>The step's <c>seq</c>.</summary>
    public new long Seq => base.Seq!.Value;

    /// <inheritdoc />
    public override string ToString() => $"{Key} #{Seq}: duplicate";
}
