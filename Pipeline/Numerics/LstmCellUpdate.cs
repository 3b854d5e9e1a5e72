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
/// m = o ⊙ tanh(c). The last partial vector goes through a zero-padded copy on the stack.
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
            Vector<TOps, TV>(options, zi + u, zj + u, zf + u, zo + u, c + u, m + u, pi + u, pf + u, po + u);
        }

        int rest = count - u;
        if (rest == 0) return;
        float* t = stackalloc float[9 * 16];
        for (var s = 0; s < 9 * lanes; s++) t[s] = 0f;
        Copy(zi + u, t, rest); Copy(zj + u, t + lanes, rest); Copy(zf + u, t + 2 * lanes, rest); Copy(zo + u, t + 3 * lanes, rest);
        Copy(c + u, t + 4 * lanes, rest);
        if (options.Peepholes)
        {
            Copy(pi + u, t + 6 * lanes, rest); Copy(pf + u, t + 7 * lanes, rest); Copy(po + u, t + 8 * lanes, rest);
        }

        Vector<TOps, TV>(options, t, t + lanes, t + 2 * lanes, t + 3 * lanes, t + 4 * lanes, t + 5 * lanes, t + 6 * lanes, t + 7 * lanes, t + 8 * lanes);
        Copy(t + 4 * lanes, c + u, rest);
        Copy(t + 5 * lanes, m + u, rest);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* from, float* to, int count)
    {
        for (var i = 0; i < count; i++) to[i] = from[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Vector<TOps, TV>(in CellOptions o, float* zi, float* zj, float* zf, float* zo,
        float* c, float* m, float* pi, float* pf, float* po)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        TV cPrev = TOps.Load(c);
        TV xi = TOps.Load(zi);
        TV xj = TOps.Load(zj);
        TV xo = TOps.Load(zo);
        if (o.Peepholes) xi = TOps.Fma(TOps.Load(pi), cPrev, xi);
        TV hi = TOps.Broadcast(o.GateClip), lo = TOps.Broadcast(-o.GateClip);
        if (o.HasGateClip)
        {
            xi = TOps.Max(TOps.Min(xi, hi), lo);
            xj = TOps.Max(TOps.Min(xj, hi), lo);
        }

        TV i = VectorActivations.Sigmoid<TOps, TV>(xi);
        TV f;
        if (o.InputForget)
        {
            f = TOps.Subtract(TOps.Broadcast(1f), i);
        }
        else
        {
            TV xf = TOps.Load(zf);
            if (o.Peepholes) xf = TOps.Fma(TOps.Load(pf), cPrev, xf);
            if (o.HasGateClip) xf = TOps.Max(TOps.Min(xf, hi), lo);
            f = VectorActivations.Sigmoid<TOps, TV>(xf);
        }

        TV g = VectorActivations.Tanh<TOps, TV>(xj);
        TV cNew = TOps.Fma(f, cPrev, TOps.Multiply(i, g));
        if (o.HasCellClip) cNew = TOps.Max(TOps.Min(cNew, TOps.Broadcast(o.CellClip)), TOps.Broadcast(-o.CellClip));
        if (o.Peepholes) xo = TOps.Fma(TOps.Load(po), cNew, xo);
        if (o.HasGateClip) xo = TOps.Max(TOps.Min(xo, hi), lo);
        TV gateO = VectorActivations.Sigmoid<TOps, TV>(xo);
        TOps.Store(c, cNew);
        TOps.Store(m, TOps.Multiply(gateO, VectorActivations.Tanh<TOps, TV>(cNew)));
    }
}
