using System.Runtime.CompilerServices;

namespace LstmStream.Pipeline.Numerics;

/// <summary>What the fused cell update needs to know about its layer (see <c>LstmLayer</c> for the formulas).</summary>
internal readonly struct CellOptions(bool peepholes, float? gateClip, float? cellClip, bool inputForget)
{
    public readonly bool Peepholes = peepholes;
    public readonly bool HasGateClip = gateClip is not null;
    public readonly float GateClip = gateClip ?? 0f;
    public readonly bool HasCellClip = cellClip is not null;
    public readonly float CellClip = cellClip ?? 0f;
    public readonly bool InputForget = inputForget;
}

/// <summary>
/// The fused activation and state update: one vectorized pass over <c>count</c> cell units that reads
/// the four gate pre-activations, the peepholes and c_prev, and writes the new c (in place) and
/// m = o ⊙ tanh(c). The last partial vector is read and written through a lane mask.
/// </summary>
internal static unsafe class LstmCellUpdate
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TOps, TV>(in CellOptions options, float* zi, float* zj, float* zf, float* zo,
        float* c, float* m, float* pi, float* pf, float* po, int count)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes;
        int full = count - count % lanes;
        if (full > 0)
        {
            // Software-pipelined by one vector: the output of vector u − lanes is computed next to the new c of
            // vector u, two independent dependency chains that the core overlaps. One call site each of the new c and
            // of the output, so the JIT inlines every vector operation (past its inlining budget it would call them).
            TV cNew = default;
            for (int u = 0; u <= full; u += lanes)
            {
                TV next = u < full ? CellState<TOps, TV, No>(options, zi + u, zj + u, zf + u, c + u, pi + u, pf + u, default) : default;
                if (u > 0) Output<TOps, TV, No>(options, zo + (u - lanes), cNew, m + (u - lanes), po + (u - lanes), default);
                cNew = next;
            }
        }

        if (full < count) MaskedUnits<TOps, TV>(options, zi + full, zj + full, zf + full, zo + full, c + full, m + full, pi + full, pf + full, po + full, count - full);
    }

    /// <summary>The update of fewer than a vector of units (lanes past <paramref name="count"/> untouched).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void MaskedUnits<TOps, TV>(in CellOptions options, float* zi, float* zj, float* zf, float* zo,
        float* c, float* m, float* pi, float* pf, float* po, int count)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        TV mask = TOps.TailMask(count);
        TV cNew = CellState<TOps, TV, Yes>(options, zi, zj, zf, c, pi, pf, mask);
        Output<TOps, TV, Yes>(options, zo, cNew, m, po, mask);
    }

    /// <summary>
    /// The update of one block of <paramref name="count"/> ≤ lanes units for <paramref name="rows"/> rows, as the
    /// fused layer step has them after one micro-kernel tile: the gates of row r at <c>z + r · stride</c> as four
    /// vectors <c>[i | j | f | o]</c>, its c at <c>c[r] + at</c> (updated in place) and its output at <c>m[r] + at</c>
    /// (row pointers at unit 0, <paramref name="at"/> the block's first unit).
    /// Pipelined by one row like <see cref="Run{TOps, TV}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunBlockRows<TOps, TV>(in CellOptions options, float* z, int stride, int rows, float** c, float** m, nint at,
        float* pi, float* pf, float* po, int count)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes;
        if (count < lanes)
        {
            for (var r = 0; r < rows; r++)
            {
                float* zr = z + (long)r * stride;
                MaskedUnits<TOps, TV>(options, zr, zr + lanes, zr + 2 * lanes, zr + 3 * lanes, c[r] + at, m[r] + at, pi, pf, po, count);
            }

            return;
        }

        TV current = default;
        for (var r = 0; r <= rows; r++)
        {
            float* zr = z + (long)r * stride;
            TV next = r < rows ? CellState<TOps, TV, No>(options, zr, zr + lanes, zr + 2 * lanes, c[r] + at, pi, pf, default) : default;
            if (r > 0) Output<TOps, TV, No>(options, zr - stride + 3 * lanes, current, m[r - 1] + at, po, default);
            current = next;
        }
    }

    /// <summary>c = f ⊙ c_prev + i ⊙ g for one vector, stored in place and returned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV CellState<TOps, TV, TMasked>(in CellOptions o, float* zi, float* zj, float* zf,
        float* c, float* pi, float* pf, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
    {
        TV cPrev = Load<TOps, TV, TMasked>(c, mask);
        TV xi = Load<TOps, TV, TMasked>(zi, mask);
        TV xj = Load<TOps, TV, TMasked>(zj, mask);
        if (o.Peepholes) xi = TOps.Fma(Load<TOps, TV, TMasked>(pi, mask), cPrev, xi);
        TV hi = TOps.Broadcast(o.GateClip), lo = TOps.Broadcast(-o.GateClip);
        if (o.HasGateClip)
        {
            xi = TOps.Clamp(xi, lo, hi);
            xj = TOps.Clamp(xj, lo, hi);
        }

        TV f, ig;
        if (o.InputForget)
        {
            TV i = VectorActivations.Sigmoid<TOps, TV>(xi);
            f = TOps.Subtract(TOps.Broadcast(1f), i);
            ig = TOps.Multiply(i, VectorActivations.Tanh<TOps, TV>(xj));
        }
        else
        {
            TV xf = Load<TOps, TV, TMasked>(zf, mask);
            if (o.Peepholes) xf = TOps.Fma(Load<TOps, TV, TMasked>(pf, mask), cPrev, xf);
            if (o.HasGateClip) xf = TOps.Clamp(xf, lo, hi);
            f = VectorActivations.Sigmoid<TOps, TV>(xf);
            ig = VectorActivations.SigmoidTimesTanh<TOps, TV>(xi, xj);
        }

        TV cNew = TOps.Fma(f, cPrev, ig);
        if (o.HasCellClip) cNew = TOps.Clamp(cNew, TOps.Broadcast(-o.CellClip), TOps.Broadcast(o.CellClip));
        if (TMasked.Value) TOps.MaskedStore(c, mask, cNew);
        else TOps.Store(c, cNew);
        return cNew;
    }

    /// <summary>m = o ⊙ tanh(c) for one vector, from the new c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Output<TOps, TV, TMasked>(in CellOptions o, float* zo, TV cNew, float* m, float* po, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
    {
        TV xo = Load<TOps, TV, TMasked>(zo, mask);
        if (o.Peepholes) xo = TOps.Fma(Load<TOps, TV, TMasked>(po, mask), cNew, xo);
        if (o.HasGateClip) xo = TOps.Clamp(xo, TOps.Broadcast(-o.GateClip), TOps.Broadcast(o.GateClip));
        TV mNew = VectorActivations.SigmoidTimesTanh<TOps, TV>(xo, cNew);
        if (TMasked.Value) TOps.MaskedStore(m, mask, mNew);
        else TOps.Store(m, mNew);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<TOps, TV, TMasked>(float* p, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
        => TMasked.Value ? TOps.MaskedLoad(p, mask) : TOps.Load(p);
}
