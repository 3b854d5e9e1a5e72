using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// The handful of vector operations the managed kernels need, as static members of a struct so that
/// one generic kernel is compiled (and fully inlined) once per hardware vector width.
/// </summary>
internal interface ISimdOps<TV> where TV : struct
{
    static abstract int Lanes { get; }
    static abstract TV Zero { get; }
    static abstract unsafe TV Load(float* p);
    static abstract unsafe void Store(float* p, TV v);
    static abstract TV Broadcast(float x);
    /// <summary>a · b + c.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>a · b − c, fused.</summary>
    static abstract TV Fms(TV a, TV b, TV c);
    /// <summary>c − a · b, fused.</summary>
    static abstract TV Fnma(TV a, TV b, TV c);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    /// <summary>
    /// <paramref name="x"/> clamped to [<paramref name="lo"/>, <paramref name="hi"/>] (lo ≤ hi, neither NaN); a NaN
    /// <paramref name="x"/> stays NaN.
    /// </summary>
    static abstract TV Clamp(TV x, TV lo, TV hi);
    /// <summary>
    /// x · 2ⁿ for integral-valued float n in [−126, 127], given also as <paramref name="shifted"/> = n + 1.5·2²³ + 127
    /// (<see cref="VectorActivations.ExponentShift"/>; its low mantissa bits are n + 127, the biased exponent of 2ⁿ),
    /// exact while the result is a normal float. AVX-512 scales by n in one instruction; elsewhere the exponent
    /// bits are shifted out of <paramref name="shifted"/> (<see cref="Pow2"/>) and multiplied in.
    /// </summary>
    static abstract TV ScaleByPow2(TV x, TV n, TV shifted);
    /// <summary>2ⁿ from <paramref name="shifted"/> = n + 1.5·2²³ + 127, for integral n in [−126, 127]: its bits shifted left by 23.</summary>
    static abstract TV Pow2(TV shifted);
    /// <summary>
    /// An estimate of 1/d with relative error below 1.5·2⁻¹², for a Newton step to refine, for finite nonzero d: the
    /// 14-bit estimate of AVX-512, the 12-bit one of SSE and AVX (the step then leaves at most 1.4e-7), or 1/d where
    /// the hardware has no estimate. A result below the smallest normal float may be flushed to 0.
    /// </summary>
    static abstract TV ReciprocalEstimate(TV d);

    /// <summary>a / b, the hardware's correctly rounded division.</summary>
    static abstract TV Divide(TV a, TV b);

    /// <summary>
    /// Whether the AVX-512 forms of <see cref="ReciprocalEstimate"/> (14 bits) and <see cref="ScaleByPow2"/> (one
    /// instruction) are used. <see cref="VectorActivations"/> then divides by the estimate and a Newton step; without
    /// them it divides (<see cref="Divide"/>: as many instructions as the 12-bit estimate's Newton step would add to the
    /// multiply pipes, correctly rounded, and on AVX2 CPUs such as Zen 3 run by the divider beside those pipes).
    /// </summary>
    static abstract bool UsesAvx512 { get; }

    /// <summary>A mask selecting the first <paramref name="count"/> lanes (0 &lt; count ≤ Lanes).</summary>
    static abstract TV TailMask(int count);

    /// <summary>Loads the lanes selected by <paramref name="mask"/> (others zero) without touching memory past them.</summary>
    static abstract unsafe TV MaskedLoad(float* p, TV mask);

    /// <summary>Stores the lanes selected by <paramref name="mask"/> and no others.</summary>
    static abstract unsafe void MaskedStore(float* p, TV mask, TV v);
}

internal readonly struct Simd512 : ISimdOps<Vector512<float>>
{
    public static int Lanes => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* p, Vector512<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fms(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Avx512F.IsSupported ? Avx512F.FusedMultiplySubtract(a, b, c) : Vector512.FusedMultiplyAdd(a, b, -c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fnma(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Avx512F.IsSupported ? Avx512F.FusedMultiplyAddNegated(a, b, c) : Vector512.FusedMultiplyAdd(-a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Clamp(Vector512<float> x, Vector512<float> lo, Vector512<float> hi) =>
        // vminps/vmaxps return their second operand when either is NaN.
        Avx512F.IsSupported ? Avx512F.Max(lo, Avx512F.Min(hi, x)) : Vector512.Max(lo, Vector512.Min(hi, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ScaleByPow2(Vector512<float> x, Vector512<float> n, Vector512<float> shifted) =>
        Avx512F.IsSupported ? Avx512F.Scale(x, n) : x * Pow2(shifted);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pow2(Vector512<float> shifted) => Vector512.ShiftLeft(shifted.AsInt32(), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ReciprocalEstimate(Vector512<float> d) =>
        Avx512F.IsSupported ? Avx512F.Reciprocal14(d) : Vector512.Create(1f) / d;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;

    public static bool UsesAvx512 => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> TailMask(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> MaskedLoad(float* p, Vector512<float> mask)
    {
        if (Avx512F.IsSupported) return Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);
        var v = Vector512<float>.Zero;
        for (var l = 0; l < 16; l++)
        {
            if (mask.AsInt32().GetElement(l) != 0) v = v.WithElement(l, p[l]);
        }

        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void MaskedStore(float* p, Vector512<float> mask, Vector512<float> v)
    {
        if (Avx512F.IsSupported)
        {
            Avx512F.MaskStore(p, mask, v);
            return;
        }

        for (var l = 0; l < 16; l++)
        {
            if (mask.AsInt32().GetElement(l) != 0) p[l] = v.GetElement(l);
        }
    }
}

internal readonly struct Simd256 : ISimdOps<Vector256<float>>
{
    public static int Lanes => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fms(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        X86Fma.IsSupported ? X86Fma.MultiplySubtract(a, b, c) : Vector256.FusedMultiplyAdd(a, b, -c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fnma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        X86Fma.IsSupported ? X86Fma.MultiplyAddNegated(a, b, c) : Vector256.FusedMultiplyAdd(-a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) =>
        // (v)minps/(v)maxps return their second operand when either is NaN.
        Avx.IsSupported ? Avx.Max(lo, Avx.Min(hi, x)) : Vector256.Max(lo, Vector256.Min(hi, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ScaleByPow2(Vector256<float> x, Vector256<float> n, Vector256<float> shifted) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.Scale(x, n) : x * Pow2(shifted);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow2(Vector256<float> shifted) => Vector256.ShiftLeft(shifted.AsInt32(), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ReciprocalEstimate(Vector256<float> d)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Reciprocal14(d);
        return Avx.IsSupported ? Avx.Reciprocal(d) : Vector256.Create(1f) / d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;

    public static bool UsesAvx512 => Avx512F.VL.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> TailMask(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> MaskedLoad(float* p, Vector256<float> mask)
    {
        if (Avx.IsSupported) return Avx.MaskLoad(p, mask);
        var v = Vector256<float>.Zero;
        for (var l = 0; l < 8; l++)
        {
            if (mask.AsInt32().GetElement(l) != 0) v = v.WithElement(l, p[l]);
        }

        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void MaskedStore(float* p, Vector256<float> mask, Vector256<float> v)
    {
        if (Avx.IsSupported)
        {
            Avx.MaskStore(p, mask, v);
            return;
        }

        for (var l = 0; l < 8; l++)
        {
            if (mask.AsInt32().GetElement(l) != 0) p[l] = v.GetElement(l);
        }
    }
}

internal readonly struct Simd128 : ISimdOps<Vector128<float>>
{
    public static int Lanes => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* p, Vector128<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fms(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        X86Fma.IsSupported ? X86Fma.MultiplySubtract(a, b, c) : Vector128.FusedMultiplyAdd(a, b, -c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fnma(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        X86Fma.IsSupported ? X86Fma.MultiplyAddNegated(a, b, c) : Vector128.FusedMultiplyAdd(-a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Clamp(Vector128<float> x, Vector128<float> lo, Vector128<float> hi) =>
        // (v)minps/(v)maxps return their second operand when either is NaN.
        Sse.IsSupported ? Sse.Max(lo, Sse.Min(hi, x)) : Vector128.Max(lo, Vector128.Min(hi, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ScaleByPow2(Vector128<float> x, Vector128<float> n, Vector128<float> shifted) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.Scale(x, n) : x * Pow2(shifted);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Pow2(Vector128<float> shifted) => Vector128.ShiftLeft(shifted.AsInt32(), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ReciprocalEstimate(Vector128<float> d)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Reciprocal14(d);
        return Sse.IsSupported ? Sse.Reciprocal(d) : Vector128.Create(1f) / d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;

    public static bool UsesAvx512 => Avx512F.VL.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> TailMask(int count) => Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(count)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<float> MaskedLoad(float* p, Vector128<float> mask)
    {
        if (Avx.IsSupported) return Avx.MaskLoad(p, mask);
        var v = Vector128<float>.Zero;
        for (var l = 0; l < 4; l++)
        {
            if (mask.AsInt32().GetElement(l) != 0) v = v.WithElement(l, p[l]);
        }

        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void MaskedStore(float* p, Vector128<float> mask, Vector128<float> v)
    {
        if (Avx.IsSupported)
        {
            Avx.MaskStore(p, mask, v);
            return;
        }

        for (var l = 0; l < 4; l++)
        {
            if (mask.AsInt32().GetElement(l) != 0) p[l] = v.GetElement(l);
        }
    }
}
