namespace LstmStream.Pipeline.Models;

/// <summary>
/// A dense layer on the top LSTM output: <c>y = act(h · Weights + Bias)</c>, with <see cref="Weights"/>
/// row-major <c>[InputSize × OutputSize]</c>.
/// </summary>
public sealed class DenseHead
{
    /// <summary>Creates a head; throws an <see cref="ArgumentException"/> when a size is not positive or an array does not fit.</summary>
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

    /// <summary>Values in: the top layer's h.</summary>
    public int InputSize { get; }

    /// <summary>Values out.</summary>
    public int OutputSize { get; }

    /// <summary>Row-major <c>[InputSize × OutputSize]</c>.</summary>
    public float[] Weights { get; }

    /// <summary><c>[OutputSize]</c>.</summary>
    public float[] Bias { get; }

    /// <summary>The activation after the affine map.</summary>
    public HeadActivation Activation { get; }

    /// <summary>Weights and biases.</summary>
    public long ParameterCount => (long)Weights.Length + Bias.Length;
}
