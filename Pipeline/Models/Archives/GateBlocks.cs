namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Gate-block reordering into the internal order i, j, f, o. A permutation <c>p</c> says that internal
/// block <c>b</c> is source block <c>p[b]</c>.
/// </summary>
internal static class GateBlocks
{
    /// <summary>Source order i, f, g/c, o (PyTorch and Keras).</summary>
    public static readonly int[] FromIfco = [0, 2, 1, 3];

    /// <summary>Source order i, j, f, o (TensorFlow 1, the internal order itself).</summary>
    public static readonly int[] FromIjfo = [0, 1, 2, 3];

    /// <summary>
    /// Copies a source matrix <c>[rows × 4H]</c> whose columns are gate blocks into
    /// <paramref name="kernel"/> rows starting at <paramref name="firstRow"/>, reordering the blocks.
    /// </summary>
    public static void CopyGateColumns(ReadOnlySpan<float> source, int rows, int cells, int[] permutation, Span<float> kernel, int firstRow)
    {
        int width = 4 * cells;
        for (var r = 0; r < rows; r++)
        {
            var src = source.Slice(r * width, width);
            var dst = kernel.Slice((firstRow + r) * width, width);
            for (var b = 0; b < 4; b++) src.Slice(permutation[b] * cells, cells).CopyTo(dst.Slice(b * cells, cells));
        }
    }

    /// <summary>
    /// Copies a source matrix <c>[4H × columns]</c> whose rows are gate blocks (PyTorch's <c>W · x</c> form)
    /// transposed into <paramref name="kernel"/> rows starting at <paramref name="firstRow"/>, reordering the blocks.
    /// </summary>
    public static void CopyGateRowsTransposed(ReadOnlySpan<float> source, int columns, int cells, int[] permutation, Span<float> kernel, int firstRow)
    {
        int width = 4 * cells;
        for (var b = 0; b < 4; b++)
        {
            for (var u = 0; u < cells; u++)
            {
                var src = source.Slice((permutation[b] * cells + u) * columns, columns);
                int column = b * cells + u;
                for (var r = 0; r < columns; r++) kernel[(firstRow + r) * width + column] = src[r];
            }
        }
    }

    /// <summary>Adds a gate-ordered source vector <c>[4H]</c> to <paramref name="bias"/>, reordering the blocks.</summary>
    public static void AddGateVector(ReadOnlySpan<float> source, int cells, int[] permutation, Span<float> bias)
    {
        for (var b = 0; b < 4; b++)
        {
            var src = source.Slice(permutation[b] * cells, cells);
            var dst = bias.Slice(b * cells, cells);
            for (var u = 0; u < cells; u++) dst[u] += src[u];
        }
    }

    /// <summary>Transposes a row-major <c>[rows × columns]</c> matrix.</summary>
    public static float[] Transpose(ReadOnlySpan<float> source, int rows, int columns)
    {
        var result = new float[source.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++) result[c * rows + r] = source[r * columns + c];
        }

        return result;
    }
}
