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
    public static void Run<TOps, TV>(in CellOptions options, float* zi, float* zj, float* zf, float* zo,
        float* c, float* m, float* pi, float* pf, float* po, int count)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes;
        int u = 0;
        for (; u + lanes <= count; u += lanes)
        {
            Vector<TOps, TV, No>(options, zi + u, zj + u, zf + u, zo + u, c + u, m + u, pi + u, pf + u, po + u, default);
        }

        int rest = count - u;
        if (rest > 0)
        {
            Vector<TOps, TV, Yes>(options, zi + u, zj + u, zf + u, zo + u, c + u, m + u, pi + u, pf + u, po + u, TOps.TailMask(rest));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Vector<TOps, TV, TMasked>(in CellOptions o, float* zi, float* zj, float* zf, float* zo,
        float* c, float* m, float* pi, float* pf, float* po, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
    {
        TV cPrev = Load<TOps, TV, TMasked>(c, mask);
        TV xi = Load<TOps, TV, TMasked>(zi, mask);
        TV xj = Load<TOps, TV, TMasked>(zj, mask);
        TV xo = Load<TOps, TV, TMasked>(zo, mask);
        if (o.Peepholes) xi = TOps.Fma(Load<TOps, TV, TMasked>(pi, mask), cPrev, xi);
        TV hi = TOps.Broadcast(o.GateClip), lo = TOps.Broadcast(-o.GateClip);
        if (o.HasGateClip)
        {
            xi = TOps.Clamp(xi, lo, hi);
            xj = TOps.Clamp(xj, lo, hi);
        }

        TV i = VectorActivations.Sigmoid<TOps, TV>(xi);
        TV f;
        if (o.InputForget)
        {
            f = TOps.Subtract(TOps.Broadcast(1f), i);
        }
        else
        {
            TV xf = Load<TOps, TV, TMasked>(zf, mask);
            if (o.Peepholes) xf = TOps.Fma(Load<TOps, TV, TMasked>(pf, mask), cPrev, xf);
            if (o.HasGateClip) xf = TOps.Clamp(xf, lo, hi);
            f = VectorActivations.Sigmoid<TOps, TV>(xf);
        }

        TV g = VectorActivations.Tanh<TOps, TV>(xj);
        TV cNew = TOps.Fma(f, cPrev, TOps.Multiply(i, g));
        if (o.HasCellClip) cNew = TOps.Clamp(cNew, TOps.Broadcast(-o.CellClip), TOps.Broadcast(o.CellClip));
        if (o.Peepholes) xo = TOps.Fma(Load<TOps, TV, TMasked>(po, mask), cNew, xo);
        if (o.HasGateClip) xo = TOps.Clamp(xo, lo, hi);
        TV gateO = VectorActivations.Sigmoid<TOps, TV>(xo);
        TV mNew = TOps.Multiply(gateO, VectorActivations.Tanh<TOps, TV>(cNew));
        if (TMasked.Value)
        {
            TOps.MaskedStore(c, mask, cNew);
            TOps.MaskedStore(m, mask, mNew);
        }
        else
        {
            TOps.Store(c, cNew);
            TOps.Store(m, mNew);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<TOps, TV, TMasked>(float* p, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
        => TMasked.Value ? TOps.MaskedLoad(p, mask) : TOps.Load(p);
}
