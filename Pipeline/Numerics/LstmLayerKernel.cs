using System.Numerics.Tensors;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// One layer step for a batch of rows: one matrix multiply for the gates of every row, then one fused
/// pass of activations and state update. Holds the layer's packed weights and its scratch space, so
/// an instance is used by one thread at a time.
/// </summary>
public sealed class LstmLayerKernel
{
    private readonly IMatMulBackend _backend;
    private readonly IPackedMatrix _kernel;
    private readonly IPackedMatrix? _projection;
    private float[] _gates = [];
    private float[] _cellOutput = [];

    public LstmLayerKernel(LstmLayer layer, IMatMulBackend backend)
    {
        Layer = layer;
        _backend = backend;
        _kernel = backend.Pack(layer.Kernel, layer.ConcatSize, layer.GateWidth);
        if (layer.Projection is { } proj) _projection = backend.Pack(proj, layer.CellSize, layer.OutputSize);
    }

    public LstmLayer Layer { get; }

    /// <summary>
    /// Steps <paramref name="rows"/> independent rows.
    /// <paramref name="xh"/> is <c>[rows × ConcatSize]</c>, each row <c>[x | h_prev]</c>;
    /// <paramref name="c"/> is <c>[rows × CellSize]</c>, c_prev in and the new c out;
    /// <paramref name="h"/> is <c>[rows × OutputSize]</c>, the new h out.
    /// </summary>
    public void Step(int rows, ReadOnlySpan<float> xh, Span<float> c, Span<float> h)
    {
        var layer = Layer;
        int cells = layer.CellSize, gw = layer.GateWidth;
        if (rows == 0) return;
        if (xh.Length < rows * layer.ConcatSize) throw new ArgumentException("xh is shorter than rows × ConcatSize", nameof(xh));
        if (c.Length < rows * cells) throw new ArgumentException("c is shorter than rows × CellSize", nameof(c));
        if (h.Length < rows * layer.OutputSize) throw new ArgumentException("h is shorter than rows × OutputSize", nameof(h));

        var gates = Scratch(ref _gates, rows * gw);
        _backend.Multiply(xh[..(rows * layer.ConcatSize)], rows, _kernel, layer.Bias, gates);

        var m = _projection is null ? h : Scratch(ref _cellOutput, rows * cells);
        for (var r = 0; r < rows; r++)
        {
            CellUpdate(layer, gates.Slice(r * gw, gw), c.Slice(r * cells, cells), m.Slice(r * cells, cells));
        }

        if (_projection is not null)
        {
            _backend.Multiply(m[..(rows * cells)], rows, _projection, default, h);
            if (layer.ProjectionClip is { } pc) TensorPrimitives.Clamp(h[..(rows * layer.OutputSize)], -pc, pc, h);
        }
    }

    /// <summary>Activations and state update of one row: z (gate pre-activations, order i, j, f, o) → c, m.</summary>
    private static void CellUpdate(LstmLayer layer, Span<float> z, Span<float> c, Span<float> m)
    {
        int n = layer.CellSize;
        var zi = z[..n];
        var zj = z.Slice(n, n);
        var zf = z.Slice(2 * n, n);
        var zo = z.Slice(3 * n, n);
        if (layer.HasPeepholes)
        {
            TensorPrimitives.FusedMultiplyAdd(layer.PeepholeInput!, c, zi, zi);
            TensorPrimitives.FusedMultiplyAdd(layer.PeepholeForget!, c, zf, zf);
        }

        if (layer.GateClip is { } clip)
        {
            TensorPrimitives.Clamp(z[..(3 * n)], -clip, clip, z[..(3 * n)]);
        }

        TensorPrimitives.Sigmoid(zf, zf);
        if (layer.InputForget)
        {
            TensorPrimitives.Subtract(1f, zf, zi);
        }
        else
        {
            TensorPrimitives.Sigmoid(zi, zi);
        }

        TensorPrimitives.Tanh(zj, zj);
        TensorPrimitives.Multiply(zf, c, c);
        TensorPrimitives.FusedMultiplyAdd(zi, zj, c, c);
        if (layer.CellClip is { } cc) TensorPrimitives.Clamp(c, -cc, cc, c);
        if (layer.HasPeepholes) TensorPrimitives.FusedMultiplyAdd(layer.PeepholeOutput!, c, zo, zo);
        if (layer.GateClip is { } clip2) TensorPrimitives.Clamp(zo, -clip2, clip2, zo);
        TensorPrimitives.Sigmoid(zo, zo);
        TensorPrimitives.Tanh(c, m);
        TensorPrimitives.Multiply(zo, m, m);
    }

    private static Span<float> Scratch(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[Math.Max(length, buffer.Length * 2)];
        return buffer.AsSpan(0, length);
    }
}
