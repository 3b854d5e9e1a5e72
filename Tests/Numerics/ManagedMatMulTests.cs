using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public class ManagedMatMulTests
{
    private static readonly int[] Widths = [1, 2, 5, 15, 16, 17, 31, 33, 47, 64, 65, 100, 129, 200, 255, 600];

    public static IEnumerable<object[]> Backends() =>
        from bits in new[] { 512, 256, 128 }
        from threads in new[] { 1, 2 }
        select new object[] { bits, threads };

    [Theory]
    [MemberData(nameof(Backends))]
    public void Every_row_count_from_1_to_40_matches_the_double_reference(int bits, int threads)
    {
        using var backend = new ManagedMatMul(threads, bits);
        var rng = new Random(1000 + bits + threads);
        for (var m = 1; m <= 40; m++)
        {
            // Walk k and n through awkward widths so every row count meets several edge shapes.
            for (var pick = 0; pick < 3; pick++)
            {
                int k = Widths[(m * 7 + pick * 5) % Widths.Length];
                int n = Widths[(m * 3 + pick * 11 + 4) % Widths.Length];
                Check(backend, rng, m, k, n, withBias: (m + pick) % 2 == 0);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Edge_widths_and_large_batches_match_the_double_reference(int bits, int threads)
    {
        using var backend = new ManagedMatMul(threads, bits);
        var rng = new Random(2000 + bits + threads);
        foreach (var (m, k, n) in new[]
                 {
                     (1, 1, 1), (1, 600, 1), (1, 1, 600), (3, 17, 33), (7, 65, 47), (8, 512, 1024), (12, 100, 130),
                     (13, 64, 64), (50, 600, 200), (97, 33, 17), (200, 300, 64), (300, 129, 255), (64, 600, 600),
                 })
        {
            Check(backend, rng, m, k, n, withBias: true);
            Check(backend, rng, m, k, n, withBias: false);
        }
    }

    [Fact]
    public void A_rows_result_is_bitwise_the_same_whatever_the_batch_threads_or_vector_width()
    {
        // Every element is one FMA chain over k in ascending order, so a key's output never depends on
        // which other keys share its batch.
        var rng = new Random(77);
        int k = 300, n = 200;
        var b = ReferenceLstmCell.RandomValues(rng, k * n);
        var bias = ReferenceLstmCell.RandomValues(rng, n);
        var a = ReferenceLstmCell.RandomValues(rng, 100 * k);
        float[]? expected = null;
        foreach (var (bits, threads) in new[] { (512, 1), (512, 2), (256, 1), (256, 2), (128, 1) })
        {
            using var backend = new ManagedMatMul(threads, bits);
            var packed = backend.Pack(b, k, n);
            foreach (var m in new[] { 1, 5, 8, 12, 13, 40, 100 })
            {
                var c = new float[m * n];
                backend.Multiply(a.AsSpan(0, m * k), m, packed, bias, c);
                expected ??= c[..n];
                Assert.Equal(expected, c[..n]);

                // Row 4 (when present) equals the same row multiplied alone.
                if (m > 4)
                {
                    var alone = new float[n];
                    backend.Multiply(a.AsSpan(4 * k, k), 1, packed, bias, alone);
                    Assert.Equal(alone, c[(4 * n)..(5 * n)]);
                }
            }
        }
    }

    [Fact]
    public void Narrow_b_dot_products_match_the_double_reference_and_are_bitwise_the_same_whatever_the_batch_or_vector_width()
    {
        // B of at most NarrowColumnsKernel.MaxColumns columns (a small head) takes the dot-product kernel: 16 partial
        // sums in a fixed order, the same operations for every vector width and batch.
        var rng = new Random(78);
        foreach (var k in new[] { 1, 5, 15, 16, 17, 40, 128, 300 })
        foreach (var n in new[] { 1, 2, 3, NarrowColumnsKernel.MaxColumns })
        {
            var b = ReferenceLstmCell.RandomValues(rng, k * n);
            var bias = ReferenceLstmCell.RandomValues(rng, n);
            var a = ReferenceLstmCell.RandomValues(rng, 50 * k);
            float[]? expected = null;
            foreach (var (bits, threads) in new[] { (512, 1), (512, 2), (256, 1), (128, 1) })
            {
                using var backend = new ManagedMatMul(threads, bits);
                Check(backend, rng, 7, k, n, withBias: n % 2 == 1);
                var packed = backend.Pack(b, k, n);
                foreach (var m in new[] { 1, 3, 50 })
                {
                    var c = new float[m * n];
                    backend.Multiply(a.AsSpan(0, m * k), m, packed, bias, c);
                    expected ??= c[..n];
                    Assert.True(expected.AsSpan().SequenceEqual(c.AsSpan(0, n)), $"k {k} n {n}: {bits}-bit, {threads} thread(s), {m} rows: row 0 differs");
                    if (m > 2)
                    {
                        var alone = new float[n];
                        backend.Multiply(a.AsSpan(2 * k, k), 1, packed, bias, alone);
                        Assert.True(alone.AsSpan().SequenceEqual(c.AsSpan(2 * n, n)), $"k {k} n {n}: {bits}-bit, {m} rows: row 2 differs from itself alone");
                    }
                }
            }
        }
    }

    [Fact]
    public void Concurrent_callers_on_a_threaded_backend_get_correct_results()
    {
        using var backend = new ManagedMatMul(2);
        var rng = new Random(88);
        int m = 64, k = 256, n = 256;
        var b = ReferenceLstmCell.RandomValues(rng, k * n);
        var packed = backend.Pack(b, k, n);
        var inputs = Enumerable.Range(0, 4).Select(_ => ReferenceLstmCell.RandomValues(rng, m * k)).ToArray();
        var expected = inputs.Select(a =>
        {
            var c = new float[m * n];
            using var single = new ManagedMatMul();
            single.Multiply(a, m, single.Pack(b, k, n), default, c);
            return c;
        }).ToArray();

        Parallel.For(0, 4, t =>
        {
            var c = new float[m * n];
            for (var rep = 0; rep < 20; rep++)
            {
                backend.Multiply(inputs[t], m, packed, default, c);
                Assert.Equal(expected[t], c);
            }
        });
    }

    [Fact]
    public void Zero_rows_leave_c_untouched()
    {
        using var backend = new ManagedMatMul();
        var packed = backend.Pack(new float[6], 2, 3);
        var c = new[] { 7f, 7f, 7f };
        backend.Multiply(ReadOnlySpan<float>.Empty, 0, packed, default, c);
        Assert.Equal([7f, 7f, 7f], c);
    }

    [Fact]
    public void Mismatched_shapes_are_rejected_with_the_sizes_named()
    {
        using var backend = new ManagedMatMul();
        var packed = backend.Pack(new float[6], 2, 3);
        var e = Assert.Throws<ArgumentException>(() => backend.Multiply(new float[3], 2, packed, default, new float[6]));
        Assert.Contains("2 × 2", e.Message);
        Assert.Throws<ArgumentException>(() => backend.Multiply(new float[4], 2, packed, new float[2], new float[6]));
        Assert.Throws<ArgumentException>(() => backend.Pack(new float[5], 2, 3));
        // Panels of another vector width than the default backend's: whatever the CPU's widest width is.
        using var other = new ManagedMatMul(1, backend.VectorBits == 128 ? 256 : 128);
        var mismatch = Assert.Throws<ArgumentException>(() => other.Multiply(new float[4], 2, packed, default, new float[6]));
        Assert.Contains($"{other.VectorBits}-bit", mismatch.Message);
    }

    private static void Check(ManagedMatMul backend, Random rng, int m, int k, int n, bool withBias)
    {
        var a = ReferenceLstmCell.RandomValues(rng, m * k);
        var b = ReferenceLstmCell.RandomValues(rng, k * n);
        var bias = withBias ? ReferenceLstmCell.RandomValues(rng, n) : [];
        // C has a guard zone after m × n that the multiply must not touch.
        var c = new float[m * n + 40];
        Array.Fill(c, float.NaN);
        backend.Multiply(a, m, backend.Pack(b, k, n), bias, c);

        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = withBias ? bias[j] : 0, magnitude = withBias ? Math.Abs(bias[j]) : 0;
                for (var kk = 0; kk < k; kk++)
                {
                    double p = (double)a[i * k + kk] * b[kk * n + j];
                    sum += p;
                    magnitude += Math.Abs(p);
                }

                double tolerance = (k + 2) * 1.2e-7 * magnitude + 1e-30;
                float got = c[i * n + j];
                if (!(Math.Abs(got - sum) <= tolerance))
                    Assert.Fail($"{backend.VectorBits}-bit, {backend.Threads} thread(s), m {m} k {k} n {n} bias {withBias}: c[{i},{j}] = {got}, expected {sum} ± {tolerance}");
            }
        }

        for (var g = m * n; g < c.Length; g++)
        {
            if (!float.IsNaN(c[g])) Assert.Fail($"m {m} k {k} n {n}: wrote past the end of C at {g}");
        }
    }
}
