namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>Argument checks shared by the native backends, with messages that name the mismatch.</summary>
internal static class MatMulArguments
{
    /// <summary>
    /// Checks a <see cref="IMatMulBackend.Multiply"/> call and returns B as this backend's packed form.
    /// A and C may be longer than <c>m × K</c> and <c>m × N</c> (callers pass reusable scratch buffers).
    /// </summary>
    public static NativePackedMatrix Check(IMatMulBackend backend, ReadOnlySpan<float> a, int m, IPackedMatrix b,
        ReadOnlySpan<float> bias, Span<float> c)
    {
        ArgumentNullException.ThrowIfNull(b);
        if (b is not NativePackedMatrix packed || !ReferenceEquals(packed.Owner, backend))
            throw new ArgumentException(
                $"B was packed by {(b is NativePackedMatrix other ? other.Owner.Name : b.GetType().Name)}, not by this {backend.Name} backend; pack it with the backend that multiplies",
                nameof(b));
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        long k = packed.Rows, n = packed.Columns;
        if (a.Length < m * k)
            throw new ArgumentException($"A has {a.Length} values, fewer than {m} rows × K {k}", nameof(a));
        if (c.Length < m * n)
            throw new ArgumentException($"C has room for {c.Length} values, fewer than {m} rows × N {n}", nameof(c));
        if (!bias.IsEmpty && bias.Length != n)
            throw new ArgumentException($"bias has {bias.Length} values, expected none or N = {n}", nameof(bias));
        return packed;
    }

    /// <summary>
    /// Writes the bias into every one of the first <paramref name="m"/> rows of C and returns the GEMM's beta:
    /// 1 with a bias (C = A·B + C), 0 without one (C = A·B).
    /// </summary>
    public static float PrefillBias(ReadOnlySpan<float> bias, int m, Span<float> c)
    {
        if (bias.IsEmpty) return 0f;
        var n = bias.Length;
        for (var i = 0; i < m; i++) bias.CopyTo(c.Slice(i * n, n));
        return 1f;
    }
}
