using System.Numerics.Tensors;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// Our own matrix multiply: no native dependency, always available.
/// (First version: row-by-row axpy over row-major B; to be replaced by the register-blocked kernel.)
/// </summary>
public sealed class ManagedMatMul : IMatMulBackend
{
    public string Name => "managed";

    public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns)
    {
        if (b.Length != rows * columns) throw new ArgumentException($"B has {b.Length} values, expected {rows} × {columns}", nameof(b));
        return new RowMajor(rows, columns, b.ToArray());
    }

    public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
    {
        var p = (RowMajor)b;
        int k = p.Rows, n = p.Columns;
        for (var i = 0; i < m; i++)
        {
            var cRow = c.Slice(i * n, n);
            if (bias.IsEmpty) cRow.Clear(); else bias.CopyTo(cRow);
            var aRow = a.Slice(i * k, k);
            for (var kk = 0; kk < k; kk++)
            {
                var s = aRow[kk];
                if (s != 0f) TensorPrimitives.MultiplyAdd(p.Values.AsSpan(kk * n, n), s, cRow, cRow);
            }
        }
    }

    private sealed record RowMajor(int Rows, int Columns, float[] Values) : IPackedMatrix;
}
