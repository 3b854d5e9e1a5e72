namespace LstmStream.Pipeline.Models;

/// <summary>The activation applied after a <see cref="DenseHead"/>'s affine map.</summary>
public enum HeadActivation
{
    /// <summary>No activation: y = h · W + b.</summary>
    None,

    /// <summary>Logistic sigmoid per value.</summary>
    Sigmoid,

    /// <summary>Hyperbolic tangent per value.</summary>
    Tanh,

    /// <summary>max(0, value) per value.</summary>
    Relu,

    /// <summary>Softmax over each output row.</summary>
    Softmax,
}
