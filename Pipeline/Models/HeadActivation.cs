namespace LstmStream.Pipeline.Models;

/// <summary>The activation applied after a <see cref="DenseHead"/>'s affine map.</summary>
public enum HeadActivation
{
    None,
    Sigmoid,
    Tanh,
    Relu,
    Softmax,
}
