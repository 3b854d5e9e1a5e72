namespace LstmStream.Pipeline.Flows;

/// <summary>
/// One input step of one key for <see cref="LstmFlow"/>: the same record the command line reads as
/// <c>{"key":…,"seq":…,"x":[…],"reset":…,"end":…}</c>.
/// </summary>
/// <param name="Key">The key whose state the step advances (a sensor, a user, a session). Must not be empty.</param>
/// <param name="X">The input vector: exactly the model's input size, every value a finite float. Copied when the
/// step is taken, so the caller may reuse the memory once the flow has pulled the next step.</param>
/// <param name="Seq">Echoed on the step's output (<see cref="LstmResult.Seq"/>); null: none. A step whose seq is not
/// above the last one applied to its key's state is not applied and answered with an <see cref="LstmDuplicate"/>.</param>
/// <param name="Reset">Zero the key's state before this step.</param>
/// <param name="End">Discard the key's state after this step (its next step starts from zero state).</param>
public sealed record LstmStep(string Key, ReadOnlyMemory<float> X, long? Seq = null, bool Reset = false, bool End = false);
