namespace LstmStream.Benchmarks;

/// <summary>
/// Compares what two engines computed for the same inputs: the largest difference, scaled by the reference
/// value where that exceeds 1, must stay within <see cref="Tolerance"/>.
/// </summary>
internal static class Agreement
{
    public const float Tolerance = 1e-4f;

    /// <summary>Null when <paramref name="actual"/> agrees with <paramref name="expected"/>, else what differs and where.</summary>
    public static string? Check(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, int rowWidth)
    {
        if (expected.Length != actual.Length) return $"{what}: {actual.Length} values, expected {expected.Length}";
        var worst = 0f;
        var at = -1;
        for (var i = 0; i < expected.Length; i++)
        {
            var diff = MathF.Abs(expected[i] - actual[i]) / MathF.Max(1f, MathF.Abs(expected[i]));
            if (!(diff <= worst)) // also catches NaN
            {
                worst = float.IsNaN(diff) ? float.PositiveInfinity : diff;
                at = i;
            }
        }

        return worst <= Tolerance
            ? null
            : $"{what}: key {at / rowWidth} value {at % rowWidth} is {actual[at]}, expected {expected[at]} (difference {worst:G3} > {Tolerance:G3})";
    }
}
