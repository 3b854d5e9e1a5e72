using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// C = A · B + bias for a B with at most <see cref="MaxColumns"/> columns (a dense head with one output or a few):
/// each element is the dot product of a row of A with a column of B (packed column-major, see
/// <see cref="PackedPanels.ColumnData"/>), so one vector instruction does 16 useful multiply-adds where the
/// register tiles would use one lane of each. The product is summed in <see cref="Partials"/> partial sums (partial
/// l takes k ≡ l mod 16, in ascending k), which are then added in a fixed tree — (p[i] + p[i+8]) + (p[i+4] + p[i+12]),
/// then (q0 + q2) + (q1 + q3) — and the bias added last. The operations and their order are the same for every
/// vector width (one 16-lane vector, two of 8 or four of 4) and every batch, so a row's result is bitwise the same
/// whatever batch it is in and whatever width the hardware has. Rows are independent, so the core overlaps the
/// FMA chains of consecutive rows.
/// </summary>
internal static unsafe class NarrowColumnsKernel
{
    /// <summary>Most columns of B multiplied as dot products (wider B is cheaper in register tiles).</summary>
    public const int MaxColumns = 4;

    /// <summary>Partial sums per dot product (and the multiple K is padded to in the column-major copy).</summary>
    public const int Partials = 16;

    /// <summary>C <c>[rows × n]</c> (row-major, n = <c>b.Columns</c>) from A <c>[rows × k]</c>.</summary>
    public static void Run(int lanes, float* a, PackedPanels b, float* bias, float* c, int rows)
    {
        switch (lanes)
        {
            case 16: Run<Simd512, Vector512<float>>(a, b, bias, c, rows); break;
            case 8: Run<Simd256, Vector256<float>>(a, b, bias, c, rows); break;
            default: Run<Simd128, Vector128<float>>(a, b, bias, c, rows); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TOps, TV>(float* a, PackedPanels b, float* bias, float* c, int rows)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes, vectors = Partials / lanes, k = b.Rows, n = b.Columns;
        int full = k - k % Partials, tail = k - full;
        float* columns = b.ColumnData;
        nint stride = b.ColumnStride;
        // Masks for the vectors of the last, partial run of 16 (A must not be read past its row; B is zero-padded).
        TV tail0 = Mask<TOps, TV>(tail), tail1 = Mask<TOps, TV>(tail - lanes);
        TV tail2 = Mask<TOps, TV>(tail - 2 * lanes), tail3 = Mask<TOps, TV>(tail - 3 * lanes);
        float* partials = stackalloc float[Partials];
        for (var r = 0; r < rows; r++)
        {
            float* ar = a + (long)r * k;
            for (var j = 0; j < n; j++)
            {
                float* w = columns + j * stride;
                TV s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
                for (var kk = 0; kk < full; kk += Partials)
                {
                    s0 = TOps.Fma(TOps.Load(ar + kk), TOps.Load(w + kk), s0);
                    if (vectors > 1) s1 = TOps.Fma(TOps.Load(ar + kk + lanes), TOps.Load(w + kk + lanes), s1);
                    if (vectors > 2)
                    {
                        s2 = TOps.Fma(TOps.Load(ar + kk + 2 * lanes), TOps.Load(w + kk + 2 * lanes), s2);
                        s3 = TOps.Fma(TOps.Load(ar + kk + 3 * lanes), TOps.Load(w + kk + 3 * lanes), s3);
                    }
                }

                if (tail > 0)
                {
                    // One more run of 16 in which lanes past k read zeros from A (masked) and B (padding): every
                    // partial gets the same multiply-adds whatever the vector width.
                    s0 = TOps.Fma(TOps.MaskedLoad(ar + full, tail0), TOps.Load(w + full), s0);
                    if (vectors > 1) s1 = TOps.Fma(TOps.MaskedLoad(ar + full + lanes, tail1), TOps.Load(w + full + lanes), s1);
                    if (vectors > 2)
                    {
                        s2 = TOps.Fma(TOps.MaskedLoad(ar + full + 2 * lanes, tail2), TOps.Load(w + full + 2 * lanes), s2);
                        s3 = TOps.Fma(TOps.MaskedLoad(ar + full + 3 * lanes, tail3), TOps.Load(w + full + 3 * lanes), s3);
                    }
                }

                TOps.Store(partials, s0);
                if (vectors > 1) TOps.Store(partials + lanes, s1);
                if (vectors > 2)
                {
                    TOps.Store(partials + 2 * lanes, s2);
                    TOps.Store(partials + 3 * lanes, s3);
                }

                float dot = Sum(partials);
                c[(long)r * n + j] = bias is null ? dot : dot + bias[j];
            }
        }
    }

    /// <summary>The first <paramref name="count"/> lanes (none when count ≤ 0, all when count ≥ lanes).</summary>
    private static TV Mask<TOps, TV>(int count)
        where TOps : ISimdOps<TV>
        where TV : struct
        => count <= 0 ? TOps.Zero : TOps.TailMask(Math.Min(count, TOps.Lanes));

    /// <summary>The 16 partials added in the fixed tree, whatever vector width produced them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(float* p)
    {
        Vector128<float> q = (Vector128.Load(p) + Vector128.Load(p + 8)) + (Vector128.Load(p + 4) + Vector128.Load(p + 12));
        return (q.GetElement(0) + q.GetElement(2)) + (q.GetElement(1) + q.GetElement(3));
    }
}
