namespace LstmStream.Pipeline.Flows;

/// <summary>
/// What <see cref="LstmFlow"/> emits for each <see cref="LstmStep"/>, exactly once: an <see cref="LstmOutput"/>
/// when the step was run, an <see cref="LstmDuplicate"/> when its <c>seq</c> was not above its key's last applied
/// one (not applied), an <see cref="LstmStepRejected"/> when it was invalid. Match on the type:
/// <code>
/// switch (result)
/// {
///     case LstmOutput output: …; break;
///     case LstmDuplicate duplicate: …; break;
///     case LstmStepRejected rejected: …; break;
/// }
/// </code>
/// Results of one key come out in the order of its steps (rejections included); results of different keys
/// may interleave differently than their steps did.
/// </summary>
public abstract record LstmResult
{
    private protected LstmResult(string? key, long? seq)
    {
        Key = key;
        Seq = seq;
    }

    /// <summary>The step's key (null only for a rejected step that had none).</summary>
    public string? Key { get; }

    /// <summary>The step's <see cref="LstmStep.Seq"/>.</summary>
    public long? Seq { get; }
}
