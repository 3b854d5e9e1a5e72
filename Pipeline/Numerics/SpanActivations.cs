using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// Sigmoid or tanh of every value of a span in place, with <see cref="VectorActivations"/>: whole vectors, then the
/// last partial one through a lane mask, so every value goes through the same vector code whatever the span's
/// length or the value's place in it. A dense head's output for a key is then the same bits whether its row is
/// stepped alone or among thousands (a scalar tail, as <c>TensorPrimitives</c> has for short spans, would round a
/// batch of one to three rows differently from a larger one, and a replayed record would not reproduce its output).
/// </summary>
internal static unsafe class SpanActivations
{
    /// <summary>σ(x) of every value in place.</summary>
    /// <param name="vectorBits">512, 256 or 128; 0: the widest the processor accelerates.</param>
    public static void Sigmoid(Span<float> values, int vectorBits = 0) => Apply(values, tanh: false, vectorBits);

    /// <summary>tanh(x) of every value in place.</summary>
    /// <param name="vectorBits">512, 256 or 128; 0: the widest the processor accelerates.</param>
    public static void Tanh(Span<float> values, int vectorBits = 0) => Apply(values, tanh: true, vectorBits);

    private static void Apply(Span<float> values, bool tanh, int vectorBits)
    {
        if (values.IsEmpty) return;
        if (vectorBits == 0) vectorBits = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;
        fixed (float* p = values)
        {
            switch (vectorBits)
            {
                case 512: Run<Simd512, Vector512<float>>(p, values.Length, tanh); break;
                case 256: Run<Simd256, Vector256<float>>(p, values.Length, tanh); break;
                case 128: Run<Simd128, Vector128<float>>(p, values.Length, tanh); break;
                default: throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vector width must be 512, 256 or 128 bits");
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TOps, TV>(float* p, int count, bool tanh)
        where TOps : ISimdOps<TV>
        where TV : struct
    {
        int lanes = TOps.Lanes, i = 0;
        for (; i + lanes <= count; i += lanes) TOps.Store(p + i, Activate<TOps, TV>(TOps.Load(p + i), tanh));
        if (i == count) return;
        TV mask = TOps.TailMask(count - i);
        TOps.MaskedStore(p + i, mask, Activate<TOps, TV>(TOps.MaskedLoad(p + i, mask), tanh));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Activate<TOps, TV>(TV x, bool tanh)
        where TOps : ISimdOps<TV>
        where TV : struct =>
        tanh ? VectorActivations.Tanh<TOps, TV>(x) : VectorActivations.Sigmoid<TOps, TV>(x);
}
