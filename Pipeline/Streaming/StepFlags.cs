namespace LstmStream.Pipeline.Streaming;

/// <summary>Per-row control bits of a <see cref="StepBatch"/>.</summary>
[Flags]
public enum StepFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>Zero the key's state before this step.</summary>
    Reset = 1,

    /// <summary>Discard the key's state after this step.</summary>
    End = 2,

    /// <summary>The record carried a <c>seq</c> (echoed on output).</summary>
    HasSeq = 4,

    /// <summary>
    /// Set by the session stage: the row's <c>seq</c> is not above the key's last applied one, so the step is a
    /// duplicate (a replay) and is not applied to the key's state; its output is a duplicate record instead of <c>y</c>.
    /// </summary>
    Duplicate = 8,
}
