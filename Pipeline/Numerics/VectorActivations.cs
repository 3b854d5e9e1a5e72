using System.Runtime.CompilerServices;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// Sigmoid and tanh on whole vectors, accurate to a few float ulps (relative error below 1e-6 against a double
/// reference over the whole float range, including tiny arguments), without a cancellation near 0. NaN stays NaN, ±∞ give the limits, and tanh keeps the sign of ±0.
/// <para>
/// Both reduce the exponent as <c>n·ln2 + r</c> with <c>n</c> the nearest integer (found by adding and subtracting
/// <see cref="ExponentShift"/>, whose sum also holds the bits of <c>2ⁿ</c>) and <c>|r| ≤ ln2/2</c>, evaluate a polynomial
/// in <c>r</c> (Estrin's scheme, for a short dependency chain) and scale it by <c>2ⁿ</c>. The final quotient is, with
/// AVX-512, its 14-bit reciprocal estimate refined by one Newton step; without AVX-512 (<see cref="ISimdOps{TV}.UsesAvx512"/>)
/// the division itself: the 12-bit estimate of SSE and AVX would need the same Newton step, three more instructions
/// on the multiply pipes where the division runs on the divider beside them (Zen 3: the cell update of 1024 rows of 128
/// units in 300 µs of CPU instead of 335) and is correctly rounded. The
/// polynomials minimize the maximum relative error on the reduced interval (Lawson's iteratively reweighted least
/// squares, then each coefficient rounded to float in turn with the higher ones refitted), with the constant term
/// held at its exact value so that sigmoid(0) = ½ and tanh x = x for tiny x come out exactly.
/// </para>
/// <para>
/// Measured over every float |x| ≤ 100 (sigmoid from −87): with AVX-512, sigmoid within 4.2e-7 relative (3.2e-7
/// above x = −50), tanh within 2.8e-7, σ(a)·tanh b within 4.6e-7 on random pairs; the Newton step leaves the square
/// of the estimate's error. With the division (AVX2, SSE) the error is that of the exponentials and one rounding: the
/// cell update's new c and output within 2.7e-7 and 3.1e-7 relative on Zen 3 (the estimate's version: 2.9e-7, 3.1e-7).
/// The tests hold every width to 1e-6.
/// </para>
/// </summary>
internal static class VectorActivations
{
    private const float Log2E = 1.44269504088896341f;

    /// <summary>
    /// float(ln2), 1.9e-9 above ln2. A single fused multiply-add reduces the argument with it: the reduced argument
    /// is then off by up to |n|·1.9e-9: up to 2.4e-7 relative for the sigmoid's |n| ≤ 127 (x near −88), 2.8e-8 for
    /// tanh's |n| ≤ 29.
    /// </summary>
    private const float Ln2 = 0.693147182f;

    /// <summary>
    /// 1.5·2²³ + 127: adding it to a real number t with |t| ≤ 127 rounds t to the nearest integer n (the sum lies in
    /// [2²³, 2²⁴), where floats are the integers) and leaves n + 127, the biased exponent of 2ⁿ, in the sum's low
    /// mantissa bits, so <see cref="ISimdOps{TV}.Pow2"/> shifts 2ⁿ out of it (no conversion to integer). Never a tie:
    /// log₂e's float mantissa is odd, so x·log₂e (or 2x·log₂e) lies halfway between integers only beyond 6·10⁶.
    /// </summary>
    internal const float ExponentShift = 12583039f;

    /// <summary>Where the sigmoid is clamped: e⁸⁸ still fits a float; above 40 the result is 1 (e⁻⁴⁰ is below half an ulp of 1).</summary>
    private const float SigmoidLow = -88f, SigmoidHigh = 40f;

    /// <summary>
    /// The sigmoid's lower clamp inside <see cref="SigmoidTimesTanh{TOps, TV}"/>: (1 + e⁶⁰)·(e²⁰ + 1) still fits a
    /// float. Below it the product stays at σ(−60)·tanh b, within 8.8e-27 of the exact value.
    /// </summary>
    private const float ProductSigmoidLow = -60f;

    /// <summary>Where tanh is clamped: |tanh x| rounds to 1 beyond 9.01.</summary>
    private const float TanhLimit = 10f;

    /// <summary>1 / (1 + e⁻ˣ).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TOps, TV>(TV x)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        TV d = OnePlusExpNegative<TOps, TV>(TOps.Clamp(x, TOps.Broadcast(SigmoidLow), TOps.Broadcast(SigmoidHigh)));
        if (!TOps.UsesAvx512) return TOps.Divide(TOps.Broadcast(1f), d);
        TV y = TOps.ReciprocalEstimate(d);
        return TOps.Fma(TOps.Fnma(d, y, TOps.Broadcast(1f)), y, y);
    }

    /// <summary>tanh x = E / (E + 2) with E = e²ˣ − 1; keeps the sign of ±0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TOps, TV>(TV x)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        TV e = ExpTwiceMinusOne<TOps, TV>(x);
        return Quotient<TOps, TV>(e, TOps.Add(e, TOps.Broadcast(2f)));
    }

    /// <summary>
    /// σ(a)·tanh b = E / ((1 + e⁻ᵃ)·(E + 2)) with E = e²ᵇ − 1: one quotient instead of two and a product, as accurate
    /// as the pair, except that below a = −60 the result stays σ(−60)·tanh b (below 8.8e-27 in magnitude).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SigmoidTimesTanh<TOps, TV>(TV a, TV b)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        TV d = OnePlusExpNegative<TOps, TV>(TOps.Clamp(a, TOps.Broadcast(ProductSigmoidLow), TOps.Broadcast(SigmoidHigh)));
        TV e = ExpTwiceMinusOne<TOps, TV>(b);
        return Quotient<TOps, TV>(e, TOps.Multiply(d, TOps.Add(e, TOps.Broadcast(2f))));
    }

    /// <summary>
    /// 1 + e⁻ˣ for x in [−88, 40] (callers clamp), with e⁻ˣ = 2ⁿ·P(u), n = round(−x·log₂e), u = x + n·ln2 and
    /// P(u) ≈ e⁻ᵘ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV OnePlusExpNegative<TOps, TV>(TV x)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        TV shifted = TOps.Fma(x, TOps.Broadcast(-Log2E), TOps.Broadcast(ExponentShift));
        TV n = TOps.Subtract(shifted, TOps.Broadcast(ExponentShift));
        TV u = TOps.Fma(n, TOps.Broadcast(Ln2), x);
        // P(u) ≈ e⁻ᵘ on |u| ≤ ln2/2 within 9.2e-8 relative.
        TV u2 = TOps.Multiply(u, u);
        TV p01 = TOps.Fma(u, TOps.Broadcast(-0.9999997f), TOps.Broadcast(1f));
        TV p23 = TOps.Fma(u, TOps.Broadcast(-0.16667648f), TOps.Broadcast(0.4999915f));
        TV p45 = TOps.Fma(u, TOps.Broadcast(-0.00828971f), TOps.Broadcast(0.04189783f));
        TV p = TOps.Fma(u2, TOps.Fma(u2, p45, p23), p01);
        // Without AVX-512's scaling instruction, 2ⁿ·P + 1 is one fused multiply-add.
        return TOps.UsesAvx512 ? TOps.Add(TOps.ScaleByPow2(p, n, shifted), TOps.Broadcast(1f)) : TOps.Fma(p, TOps.Pow2(shifted), TOps.Broadcast(1f));
    }

    /// <summary>
    /// E = e²ˣ − 1 = 2ⁿ·(1 + g) − 1 for x clamped to ±10, with n = round(2x·log₂e), s = x − n·ln2/2 and
    /// g = s·H(s) ≈ e²ˢ − 1: no cancellation for small |x| (there n = 0 and E = g), and E keeps the sign of x = ±0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpTwiceMinusOne<TOps, TV>(TV x)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        x = TOps.Clamp(x, TOps.Broadcast(-TanhLimit), TOps.Broadcast(TanhLimit));
        // For x = −0 the shift gives n = +0, so s = −0 + (+0)·(−ln2/2) stays −0.
        TV shifted = TOps.Fma(x, TOps.Broadcast(2 * Log2E), TOps.Broadcast(ExponentShift));
        TV n = TOps.Subtract(shifted, TOps.Broadcast(ExponentShift));
        TV s = TOps.Fma(n, TOps.Broadcast(-Ln2 / 2), x);
        // H(s) ≈ (e²ˢ − 1)/s on |s| ≤ ln2/4 within 1.4e-8 relative.
        TV s2 = TOps.Multiply(s, s);
        TV h01 = TOps.Fma(s, TOps.Broadcast(1.9999999f), TOps.Broadcast(2f));
        TV h23 = TOps.Fma(s, TOps.Broadcast(0.6666791f), TOps.Broadcast(1.3333237f));
        TV h45 = TOps.Fma(s, TOps.Broadcast(0.08876793f), TOps.Broadcast(0.26772004f));
        TV h = TOps.Fma(s2, TOps.Fma(s2, h45, h23), h01);
        TV g = TOps.Multiply(s, h);
        TV scale = TOps.Pow2(shifted);
        // 2ⁿ·g − (1 − 2ⁿ): for n = 0 this is g − (+0), which keeps the sign of g = ±0.
        return TOps.Fms(scale, g, TOps.Subtract(TOps.Broadcast(1f), scale));
    }

    /// <summary>
    /// a / d for finite d ≥ 1, keeping the sign of a = ±0: with AVX-512, q₀ = a·y from the 14-bit reciprocal estimate
    /// y, then q₀ − (d·q₀ − a)·y, which leaves the estimate's error squared (well below an ulp); elsewhere the division.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Quotient<TOps, TV>(TV a, TV d)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        if (!TOps.UsesAvx512) return TOps.Divide(a, d);
        TV y = TOps.ReciprocalEstimate(d);
        TV q = TOps.Multiply(a, y);
        return TOps.Fnma(TOps.Fms(d, q, a), y, q);
    }
}
