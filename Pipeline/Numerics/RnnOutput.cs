namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// What a whole batch × time run returns (TensorFlow's dynamic_rnn contract): <see cref="Outputs"/> is
/// <c>[batch × time × width]</c> (top layer h, or the head's output when the head was applied), zero past
/// each row's length; <see cref="FinalState"/> is every layer's state at each row's last valid step.
/// </summary>
internal sealed record RnnOutput(float[] Outputs, int Width, LstmState FinalState);
