using System.Numerics.Tensors;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// The dense head on a batch of rows: one matrix multiply, then the activation. Immutable (the weights packed once,
/// no scratch space): any number of threads may apply it at once when its backend's multiplies may run at once.
/// </summary>
internal sealed class DenseHeadKernel
{
    private readonly IMatMulBackend _backend;
    private readonly IPackedMatrix _weights;

    public DenseHeadKernel(DenseHead head, IMatMulBackend backend)
    {
        Head = head;
        _backend = backend;
        _weights = backend.Pack(head.Weights, head.InputSize, head.OutputSize);
    }

    public DenseHead Head { get; }

    /// <summary><paramref name="y"/> <c>[rows × OutputSize]</c> = act(<paramref name="h"/> <c>[rows × InputSize]</c> · W + b).</summary>
    public void Apply(int rows, ReadOnlySpan<float> h, Span<float> y)
    {
        int n = Head.OutputSize;
        if (rows == 0) return;
        _backend.Multiply(h[..(rows * Head.InputSize)], rows, _weights, Head.Bias, y);
        var all = y[..(rows * n)];
        switch (Head.Activation)
        {
            case HeadActivation.None: break;
            case HeadActivation.Sigmoid: Elementwise(all, static (x, r) => TensorPrimitives.Sigmoid(x, r)); break;
            case HeadActivation.Tanh: Elementwise(all, static (x, r) => TensorPrimitives.Tanh(x, r)); break;
            case HeadActivation.Relu: TensorPrimitives.Max(all, 0f, all); break;
            case HeadActivation.Softmax:
                for (var r = 0; r < rows; r++) TensorPrimitives.SoftMax(y.Slice(r * n, n), y.Slice(r * n, n));
                break;
            default: throw new InvalidOperationException($"unknown head activation {Head.Activation}");
        }
    }

    /// <summary>Most floats of one vector on any ISA (AVX-512: 16); the activation runs on whole chunks of this many.</summary>
    private const int Chunk = 16;

    /// <summary>
    /// Applies <paramref name="activation"/> in place so that each value's result does not depend on where it lies in the
    /// batch: TensorPrimitives computes the last elements of a span (fewer than a vector) by another path, whose last bit
    /// may differ, so a row's output would change with the rows batched around it (a key's outputs would differ between a
    /// node that batches it with others and one that does not). Whole chunks of <see cref="Chunk"/> run in place, the
    /// remainder in a zero-padded chunk.
    /// </summary>
    private static void Elementwise(Span<float> values, ActivationSpan activation)
    {
        var whole = values.Length - values.Length % Chunk;
        if (whole > 0) activation(values[..whole], values[..whole]);
        if (whole == values.Length) return;
        Span<float> padded = stackalloc float[Chunk];
        padded.Clear();
        var rest = values[whole..];
        rest.CopyTo(padded);
        activation(padded, padded);
        padded[..rest.Length].CopyTo(rest);
    }

    private delegate void ActivationSpan(ReadOnlySpan<float> x, Span<float> result);
}
