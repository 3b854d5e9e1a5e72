namespace LstmStream.Pipeline.Flows;

/// <summary>What became of a step, in an <see cref="LstmResultRow"/> (the batched flow's form of <see cref="LstmResult"/>'s subtypes).</summary>
public enum LstmResultKind : byte
{
    /// <summary>The step was run: <see cref="LstmResultRow.Y"/> holds the model's output (as in <see cref="LstmOutput"/>).</summary>
    Output = 0,

    /// <summary>The step's <c>seq</c> was not above its key's last applied one: not applied, no output (as <see cref="LstmDuplicate"/>).</summary>
    Duplicate = 1,

    /// <summary>The step was invalid and not run: <see cref="LstmResultRow.Rejection"/> says why (an <see cref="LstmStepRejected"/>).</summary>
    Rejected = 2,
}
