namespace LstmStream.Pipeline.Models;

/// <summary>
/// A dense layer on the top LSTM output: <c>y = act(h · Weights + Bias)</c>, with <see cref="Weights"/>
/// row-major <c>[InputSize × OutputSize]</c>.
/// </summary>
public sealed class DenseHead
{
    public DenseHead(int inputSize, int outputSize, float[] weights, float[] bias, HeadActivation activation)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "input size must be positive");
        if (outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, "output size must be positive");
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(bias);
        if (weights.Length != inputSize * outputSize)
            throw new ArgumentException($"head weights have {weights.Length} values, expected [{inputSize} × {outputSize}]", nameof(weights));
        if (bias.Length != outputSize)
            throw new ArgumentException($"head bias has {bias.Length} values, expected [{outputSize}]", nameof(bias));
        InputSize = inputSize;
        OutputSize = outputSize;
        Weights = weights;
        Bias = bias;
        Activation = activation;
    }

    public int InputSize { get; }
    public int OutputSize { get; }
    public float[] Weights { get; }
    public float[] Bias { get; }
    public HeadActivation Activation { get; }
    public long ParameterCount => (long)Weights.Length + Bias.Length;
}
