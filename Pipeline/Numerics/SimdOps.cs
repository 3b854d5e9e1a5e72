using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract TV Divide(TV a, TV b);
    static abstract TV Min(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    static abstract TV Abs(TV a);
    /// <summary>Copies the sign of <paramref name="sign"/> onto non-negative <paramref name="magnitude"/>.</summary>
    static abstract TV WithSignOf(TV magnitude, TV sign);
    /// <summary>Round to nearest integer, kept as float.</summary>
    static abstract TV Round(TV a);
    /// <summary>2^n for integral-valued float n in [-126, 127].</summary>
    static abstract TV Pow2(TV n);

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WithSignOf(Vector512<float> magnitude, Vector512<float> sign) =>
        magnitude | (sign & Vector512.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> a) => Vector512.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pow2(Vector512<float> n) =>
        Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> WithSignOf(Vector256<float> magnitude, Vector256<float> sign) =>
        magnitude | (sign & Vector256.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> a) => Vector256.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow2(Vector256<float> n) =>
        Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> WithSignOf(Vector128<float> magnitude, Vector128<float> sign) =>
        magnitude | (sign & Vector128.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> a) => Vector128.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Pow2(Vector128<float> n) =>
        Vector128.ShiftLeft(Vector128.ConvertToInt32(n) + Vector128.Create(127), 23).AsSingle();

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
