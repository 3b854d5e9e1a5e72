using System.Runtime.CompilerServices;

namespace LstmStream.Pipeline.Numerics;

/// <summary>A compile-time integer, so that the JIT specializes a generic kernel per tile shape.</summary>
internal interface IConstInt
{
    static abstract int Value { get; }
}

internal readonly struct One : IConstInt { public static int Value => 1; }
internal readonly struct Two : IConstInt { public static int Value => 2; }
internal readonly struct Three : IConstInt { public static int Value => 3; }
internal readonly struct Four : IConstInt { public static int Value => 4; }
internal readonly struct Five : IConstInt { public static int Value => 5; }
internal readonly struct Six : IConstInt { public static int Value => 6; }
internal readonly struct Seven : IConstInt { public static int Value => 7; }
internal readonly struct Eight : IConstInt { public static int Value => 8; }
internal readonly struct Nine : IConstInt { public static int Value => 9; }
internal readonly struct Ten : IConstInt { public static int Value => 10; }
internal readonly struct Eleven : IConstInt { public static int Value => 11; }
internal readonly struct Twelve : IConstInt { public static int Value => 12; }

/// <summary>A compile-time flag.</summary>
internal interface IConstFlag
{
    static abstract bool Value { get; }
}

internal readonly struct Yes : IConstFlag { public static bool Value => true; }
internal readonly struct No : IConstFlag { public static bool Value => false; }

/// <summary>
/// The register-blocked GEMM micro-kernel: a tile of rows of C × vectors of columns with at most 24
/// accumulators in registers (6 rows × 4 vectors for large batches; up to 12 rows × 2 vectors so that
/// a batch of up to 12 rows streams B only once), over a run of k, reading A by scalar broadcast and
/// B from a K-major packed panel. <c>TRows</c> and <c>TVecs</c> are
/// compile-time constants, so every shape compiles to straight-line FMA code. (This file is regular
/// by construction: every accumulator line follows the same pattern.)
/// </summary>
internal static class GemmMicroKernel
{
    /// <summary>Rows per tile of a large batch (full-width tiles).</summary>
    public const int MaxRows = 6;

    /// <summary>Most rows of a half-width tile.</summary>
    public const int MaxNarrowRows = 12;

    /// <summary>
    /// c[r, 0..TVecs·L) (= or +=) Σ_k a[r][k] · panel[k·stride .. + TVecs·L) for r &lt; TRows, k &lt; kc: row r of A
    /// is read from its own pointer <c>a[r]</c> (rows may lie anywhere, e.g. state rows by slot).
    /// Initial value: the current c when <paramref name="accumulate"/>, else <paramref name="bias"/>
    /// (the same for every row) when not null, else zero. Requires TRows · TVecs ≤ 24.
    /// When <paramref name="aNext"/> is not null, a second run of <paramref name="kcNext"/> k follows the first
    /// without leaving the registers: row r read from <c>aNext[r]</c>, B from where the first run ended (A's
    /// columns in two places, e.g. a row's input and its h_prev in a state table; the same FMA chain as one run).
    /// With <typeparamref name="TMasked"/>, C and the bias are read and written in the last vector only in
    /// the lanes of <paramref name="mask"/> (the ragged right edge of C; B is zero-padded there).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Tile<TOps, TV, TRows, TVecs, TMasked>(float** a, float* panel, nint stride, nint kc, float** aNext, nint kcNext, float* c, nint ldc, float* bias, bool accumulate, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TRows : IConstInt
        where TVecs : IConstInt
        where TMasked : IConstFlag
    {
        nint lanes = TOps.Lanes;
        TV c0_0; TV c0_1; TV c0_2; TV c0_3;
        TV c1_0; TV c1_1; TV c1_2; TV c1_3;
        TV c2_0; TV c2_1; TV c2_2; TV c2_3;
        TV c3_0; TV c3_1; TV c3_2; TV c3_3;
        TV c4_0; TV c4_1; TV c4_2; TV c4_3;
        TV c5_0; TV c5_1; TV c5_2; TV c5_3;
        TV c6_0; TV c6_1; TV c6_2;
        TV c7_0; TV c7_1; TV c7_2;
        TV c8_0; TV c8_1;
        TV c9_0; TV c9_1;
        TV c10_0; TV c10_1;
        TV c11_0; TV c11_1;
        if (accumulate)
        {
            c0_0 = Read<TOps, TV, TMasked>(c + 0 * ldc + 0 * lanes, TVecs.Value == 1, mask);
            c0_1 = (TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 0 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c0_2 = (TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 0 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c0_3 = (TVecs.Value > 3) ? Read<TOps, TV, TMasked>(c + 0 * ldc + 3 * lanes, TVecs.Value == 4, mask) : default;
            c1_0 = (TRows.Value > 1) ? Read<TOps, TV, TMasked>(c + 1 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c1_1 = (TRows.Value > 1 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 1 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c1_2 = (TRows.Value > 1 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 1 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c1_3 = (TRows.Value > 1 && TVecs.Value > 3) ? Read<TOps, TV, TMasked>(c + 1 * ldc + 3 * lanes, TVecs.Value == 4, mask) : default;
            c2_0 = (TRows.Value > 2) ? Read<TOps, TV, TMasked>(c + 2 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c2_1 = (TRows.Value > 2 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 2 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c2_2 = (TRows.Value > 2 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 2 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c2_3 = (TRows.Value > 2 && TVecs.Value > 3) ? Read<TOps, TV, TMasked>(c + 2 * ldc + 3 * lanes, TVecs.Value == 4, mask) : default;
            c3_0 = (TRows.Value > 3) ? Read<TOps, TV, TMasked>(c + 3 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c3_1 = (TRows.Value > 3 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 3 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c3_2 = (TRows.Value > 3 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 3 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c3_3 = (TRows.Value > 3 && TVecs.Value > 3) ? Read<TOps, TV, TMasked>(c + 3 * ldc + 3 * lanes, TVecs.Value == 4, mask) : default;
            c4_0 = (TRows.Value > 4) ? Read<TOps, TV, TMasked>(c + 4 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c4_1 = (TRows.Value > 4 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 4 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c4_2 = (TRows.Value > 4 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 4 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c4_3 = (TRows.Value > 4 && TVecs.Value > 3) ? Read<TOps, TV, TMasked>(c + 4 * ldc + 3 * lanes, TVecs.Value == 4, mask) : default;
            c5_0 = (TRows.Value > 5) ? Read<TOps, TV, TMasked>(c + 5 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c5_1 = (TRows.Value > 5 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 5 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c5_2 = (TRows.Value > 5 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 5 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c5_3 = (TRows.Value > 5 && TVecs.Value > 3) ? Read<TOps, TV, TMasked>(c + 5 * ldc + 3 * lanes, TVecs.Value == 4, mask) : default;
            c6_0 = (TRows.Value > 6) ? Read<TOps, TV, TMasked>(c + 6 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c6_1 = (TRows.Value > 6 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 6 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c6_2 = (TRows.Value > 6 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 6 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c7_0 = (TRows.Value > 7) ? Read<TOps, TV, TMasked>(c + 7 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c7_1 = (TRows.Value > 7 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 7 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c7_2 = (TRows.Value > 7 && TVecs.Value > 2) ? Read<TOps, TV, TMasked>(c + 7 * ldc + 2 * lanes, TVecs.Value == 3, mask) : default;
            c8_0 = (TRows.Value > 8) ? Read<TOps, TV, TMasked>(c + 8 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c8_1 = (TRows.Value > 8 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 8 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c9_0 = (TRows.Value > 9) ? Read<TOps, TV, TMasked>(c + 9 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c9_1 = (TRows.Value > 9 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 9 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c10_0 = (TRows.Value > 10) ? Read<TOps, TV, TMasked>(c + 10 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c10_1 = (TRows.Value > 10 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 10 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
            c11_0 = (TRows.Value > 11) ? Read<TOps, TV, TMasked>(c + 11 * ldc + 0 * lanes, TVecs.Value == 1, mask) : default;
            c11_1 = (TRows.Value > 11 && TVecs.Value > 1) ? Read<TOps, TV, TMasked>(c + 11 * ldc + 1 * lanes, TVecs.Value == 2, mask) : default;
        }
        else
        {
            TV b0 = bias is null ? TOps.Zero : Read<TOps, TV, TMasked>(bias, TVecs.Value == 1, mask);
            TV b1 = TVecs.Value > 1 && bias is not null ? Read<TOps, TV, TMasked>(bias + lanes, TVecs.Value == 2, mask) : TOps.Zero;
            TV b2 = TVecs.Value > 2 && bias is not null ? Read<TOps, TV, TMasked>(bias + 2 * lanes, TVecs.Value == 3, mask) : TOps.Zero;
            TV b3 = TVecs.Value > 3 && bias is not null ? Read<TOps, TV, TMasked>(bias + 3 * lanes, TVecs.Value == 4, mask) : TOps.Zero;
            c0_0 = b0; c0_1 = b1; c0_2 = b2; c0_3 = b3;
            c1_0 = b0; c1_1 = b1; c1_2 = b2; c1_3 = b3;
            c2_0 = b0; c2_1 = b1; c2_2 = b2; c2_3 = b3;
            c3_0 = b0; c3_1 = b1; c3_2 = b2; c3_3 = b3;
            c4_0 = b0; c4_1 = b1; c4_2 = b2; c4_3 = b3;
            c5_0 = b0; c5_1 = b1; c5_2 = b2; c5_3 = b3;
            c6_0 = b0; c6_1 = b1; c6_2 = b2;
            c7_0 = b0; c7_1 = b1; c7_2 = b2;
            c8_0 = b0; c8_1 = b1;
            c9_0 = b0; c9_1 = b1;
            c10_0 = b0; c10_1 = b1;
            c11_0 = b0; c11_1 = b1;
        }

        while (true)
        {
            float* a0 = TRows.Value > 0 ? a[0] : null;
            float* a1 = TRows.Value > 1 ? a[1] : null;
            float* a2 = TRows.Value > 2 ? a[2] : null;
            float* a3 = TRows.Value > 3 ? a[3] : null;
            float* a4 = TRows.Value > 4 ? a[4] : null;
            float* a5 = TRows.Value > 5 ? a[5] : null;
            float* a6 = TRows.Value > 6 ? a[6] : null;
            float* a7 = TRows.Value > 7 ? a[7] : null;
            float* a8 = TRows.Value > 8 ? a[8] : null;
            float* a9 = TRows.Value > 9 ? a[9] : null;
            float* a10 = TRows.Value > 10 ? a[10] : null;
            float* a11 = TRows.Value > 11 ? a[11] : null;
            for (nint k = 0; k < kc; k++)
            {
                TV w0 = TOps.Load(panel);
                TV w1 = TVecs.Value > 1 ? TOps.Load(panel + lanes) : default;
                TV w2 = TVecs.Value > 2 ? TOps.Load(panel + 2 * lanes) : default;
                TV w3 = TVecs.Value > 3 ? TOps.Load(panel + 3 * lanes) : default;
                panel += stride;
                TV x;
                x = TOps.Broadcast(a0[k]);
                c0_0 = TOps.Fma(x, w0, c0_0);
                if (TVecs.Value > 1) c0_1 = TOps.Fma(x, w1, c0_1);
                if (TVecs.Value > 2) c0_2 = TOps.Fma(x, w2, c0_2);
                if (TVecs.Value > 3) c0_3 = TOps.Fma(x, w3, c0_3);
                if (TRows.Value > 1)
                {
                    x = TOps.Broadcast(a1[k]);
                    c1_0 = TOps.Fma(x, w0, c1_0);
                    if (TVecs.Value > 1) c1_1 = TOps.Fma(x, w1, c1_1);
                    if (TVecs.Value > 2) c1_2 = TOps.Fma(x, w2, c1_2);
                    if (TVecs.Value > 3) c1_3 = TOps.Fma(x, w3, c1_3);
                }
                if (TRows.Value > 2)
                {
                    x = TOps.Broadcast(a2[k]);
                    c2_0 = TOps.Fma(x, w0, c2_0);
                    if (TVecs.Value > 1) c2_1 = TOps.Fma(x, w1, c2_1);
                    if (TVecs.Value > 2) c2_2 = TOps.Fma(x, w2, c2_2);
                    if (TVecs.Value > 3) c2_3 = TOps.Fma(x, w3, c2_3);
                }
                if (TRows.Value > 3)
                {
                    x = TOps.Broadcast(a3[k]);
                    c3_0 = TOps.Fma(x, w0, c3_0);
                    if (TVecs.Value > 1) c3_1 = TOps.Fma(x, w1, c3_1);
                    if (TVecs.Value > 2) c3_2 = TOps.Fma(x, w2, c3_2);
                    if (TVecs.Value > 3) c3_3 = TOps.Fma(x, w3, c3_3);
                }
                if (TRows.Value > 4)
                {
                    x = TOps.Broadcast(a4[k]);
                    c4_0 = TOps.Fma(x, w0, c4_0);
                    if (TVecs.Value > 1) c4_1 = TOps.Fma(x, w1, c4_1);
                    if (TVecs.Value > 2) c4_2 = TOps.Fma(x, w2, c4_2);
                    if (TVecs.Value > 3) c4_3 = TOps.Fma(x, w3, c4_3);
                }
                if (TRows.Value > 5)
                {
                    x = TOps.Broadcast(a5[k]);
                    c5_0 = TOps.Fma(x, w0, c5_0);
                    if (TVecs.Value > 1) c5_1 = TOps.Fma(x, w1, c5_1);
                    if (TVecs.Value > 2) c5_2 = TOps.Fma(x, w2, c5_2);
                    if (TVecs.Value > 3) c5_3 = TOps.Fma(x, w3, c5_3);
                }
                if (TRows.Value > 6)
                {
                    x = TOps.Broadcast(a6[k]);
                    c6_0 = TOps.Fma(x, w0, c6_0);
                    if (TVecs.Value > 1) c6_1 = TOps.Fma(x, w1, c6_1);
                    if (TVecs.Value > 2) c6_2 = TOps.Fma(x, w2, c6_2);
                }
                if (TRows.Value > 7)
                {
                    x = TOps.Broadcast(a7[k]);
                    c7_0 = TOps.Fma(x, w0, c7_0);
                    if (TVecs.Value > 1) c7_1 = TOps.Fma(x, w1, c7_1);
                    if (TVecs.Value > 2) c7_2 = TOps.Fma(x, w2, c7_2);
                }
                if (TRows.Value > 8)
                {
                    x = TOps.Broadcast(a8[k]);
                    c8_0 = TOps.Fma(x, w0, c8_0);
                    if (TVecs.Value > 1) c8_1 = TOps.Fma(x, w1, c8_1);
                }
                if (TRows.Value > 9)
                {
                    x = TOps.Broadcast(a9[k]);
                    c9_0 = TOps.Fma(x, w0, c9_0);
                    if (TVecs.Value > 1) c9_1 = TOps.Fma(x, w1, c9_1);
                }
                if (TRows.Value > 10)
                {
                    x = TOps.Broadcast(a10[k]);
                    c10_0 = TOps.Fma(x, w0, c10_0);
                    if (TVecs.Value > 1) c10_1 = TOps.Fma(x, w1, c10_1);
                }
                if (TRows.Value > 11)
                {
                    x = TOps.Broadcast(a11[k]);
                    c11_0 = TOps.Fma(x, w0, c11_0);
                    if (TVecs.Value > 1) c11_1 = TOps.Fma(x, w1, c11_1);
                }
            }

            // A second run of k (rows elsewhere, the panel going on where the first run ended): the same FMA chain.
            if (aNext is null) break;
            a = aNext;
            kc = kcNext;
            aNext = null;
        }

        Write<TOps, TV, TMasked>(c + 0 * ldc + 0 * lanes, c0_0, TVecs.Value == 1, mask);
        if (TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 0 * ldc + 1 * lanes, c0_1, TVecs.Value == 2, mask);
        if (TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 0 * ldc + 2 * lanes, c0_2, TVecs.Value == 3, mask);
        if (TVecs.Value > 3) Write<TOps, TV, TMasked>(c + 0 * ldc + 3 * lanes, c0_3, TVecs.Value == 4, mask);
        if (TRows.Value > 1) Write<TOps, TV, TMasked>(c + 1 * ldc + 0 * lanes, c1_0, TVecs.Value == 1, mask);
        if (TRows.Value > 1 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 1 * ldc + 1 * lanes, c1_1, TVecs.Value == 2, mask);
        if (TRows.Value > 1 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 1 * ldc + 2 * lanes, c1_2, TVecs.Value == 3, mask);
        if (TRows.Value > 1 && TVecs.Value > 3) Write<TOps, TV, TMasked>(c + 1 * ldc + 3 * lanes, c1_3, TVecs.Value == 4, mask);
        if (TRows.Value > 2) Write<TOps, TV, TMasked>(c + 2 * ldc + 0 * lanes, c2_0, TVecs.Value == 1, mask);
        if (TRows.Value > 2 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 2 * ldc + 1 * lanes, c2_1, TVecs.Value == 2, mask);
        if (TRows.Value > 2 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 2 * ldc + 2 * lanes, c2_2, TVecs.Value == 3, mask);
        if (TRows.Value > 2 && TVecs.Value > 3) Write<TOps, TV, TMasked>(c + 2 * ldc + 3 * lanes, c2_3, TVecs.Value == 4, mask);
        if (TRows.Value > 3) Write<TOps, TV, TMasked>(c + 3 * ldc + 0 * lanes, c3_0, TVecs.Value == 1, mask);
        if (TRows.Value > 3 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 3 * ldc + 1 * lanes, c3_1, TVecs.Value == 2, mask);
        if (TRows.Value > 3 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 3 * ldc + 2 * lanes, c3_2, TVecs.Value == 3, mask);
        if (TRows.Value > 3 && TVecs.Value > 3) Write<TOps, TV, TMasked>(c + 3 * ldc + 3 * lanes, c3_3, TVecs.Value == 4, mask);
        if (TRows.Value > 4) Write<TOps, TV, TMasked>(c + 4 * ldc + 0 * lanes, c4_0, TVecs.Value == 1, mask);
        if (TRows.Value > 4 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 4 * ldc + 1 * lanes, c4_1, TVecs.Value == 2, mask);
        if (TRows.Value > 4 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 4 * ldc + 2 * lanes, c4_2, TVecs.Value == 3, mask);
        if (TRows.Value > 4 && TVecs.Value > 3) Write<TOps, TV, TMasked>(c + 4 * ldc + 3 * lanes, c4_3, TVecs.Value == 4, mask);
        if (TRows.Value > 5) Write<TOps, TV, TMasked>(c + 5 * ldc + 0 * lanes, c5_0, TVecs.Value == 1, mask);
        if (TRows.Value > 5 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 5 * ldc + 1 * lanes, c5_1, TVecs.Value == 2, mask);
        if (TRows.Value > 5 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 5 * ldc + 2 * lanes, c5_2, TVecs.Value == 3, mask);
        if (TRows.Value > 5 && TVecs.Value > 3) Write<TOps, TV, TMasked>(c + 5 * ldc + 3 * lanes, c5_3, TVecs.Value == 4, mask);
        if (TRows.Value > 6) Write<TOps, TV, TMasked>(c + 6 * ldc + 0 * lanes, c6_0, TVecs.Value == 1, mask);
        if (TRows.Value > 6 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 6 * ldc + 1 * lanes, c6_1, TVecs.Value == 2, mask);
        if (TRows.Value > 6 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 6 * ldc + 2 * lanes, c6_2, TVecs.Value == 3, mask);
        if (TRows.Value > 7) Write<TOps, TV, TMasked>(c + 7 * ldc + 0 * lanes, c7_0, TVecs.Value == 1, mask);
        if (TRows.Value > 7 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 7 * ldc + 1 * lanes, c7_1, TVecs.Value == 2, mask);
        if (TRows.Value > 7 && TVecs.Value > 2) Write<TOps, TV, TMasked>(c + 7 * ldc + 2 * lanes, c7_2, TVecs.Value == 3, mask);
        if (TRows.Value > 8) Write<TOps, TV, TMasked>(c + 8 * ldc + 0 * lanes, c8_0, TVecs.Value == 1, mask);
        if (TRows.Value > 8 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 8 * ldc + 1 * lanes, c8_1, TVecs.Value == 2, mask);
        if (TRows.Value > 9) Write<TOps, TV, TMasked>(c + 9 * ldc + 0 * lanes, c9_0, TVecs.Value == 1, mask);
        if (TRows.Value > 9 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 9 * ldc + 1 * lanes, c9_1, TVecs.Value == 2, mask);
        if (TRows.Value > 10) Write<TOps, TV, TMasked>(c + 10 * ldc + 0 * lanes, c10_0, TVecs.Value == 1, mask);
        if (TRows.Value > 10 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 10 * ldc + 1 * lanes, c10_1, TVecs.Value == 2, mask);
        if (TRows.Value > 11) Write<TOps, TV, TMasked>(c + 11 * ldc + 0 * lanes, c11_0, TVecs.Value == 1, mask);
        if (TRows.Value > 11 && TVecs.Value > 1) Write<TOps, TV, TMasked>(c + 11 * ldc + 1 * lanes, c11_1, TVecs.Value == 2, mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe TV Read<TOps, TV, TMasked>(float* p, bool last, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
        => TMasked.Value && last ? TOps.MaskedLoad(p, mask) : TOps.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Write<TOps, TV, TMasked>(float* p, TV v, bool last, TV mask)
        where TOps : ISimdOps<TV>
        where TV : struct
        where TMasked : IConstFlag
    {
        if (TMasked.Value && last) TOps.MaskedStore(p, mask, v);
        else TOps.Store(p, v);
    }
}
