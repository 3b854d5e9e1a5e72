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
            // Ours, not TensorPrimitives': the same bits for a row whatever the batch's row count (see SpanActivations).
            case HeadActivation.Sigmoid: SpanActivations.Sigmoid(all); break;
            case HeadActivation.Tanh: SpanActivations.Tanh(all); break;
            case HeadActivation.Relu: TensorPrimitives.Max(all, 0f, all); break;
            case HeadActivation.Softmax:
                for (var r = 0; r < rows; r++) TensorPrimitives.SoftMax(y.Slice(r * n, n), y.Slice(r * n, n));
                break;
            default: throw new InvalidOperationException($"unknown head activation {Head.Activation}");
        }
    }
}
