using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Native;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics.Native;

/// <summary>Argument handling of each native backend: zero rows, foreign packed matrices, wrong sizes, threads.</summary>
public sealed class BackendContractTests
{
    [NativeBackendFact(MatMulBackendRegistry.OpenBlas)]
    public void OpenBlas_contract() => CheckContract(MatMulBackendRegistry.OpenBlas);

    [NativeBackendFact(MatMulBackendRegistry.OneDnn)]
    public void OneDnn_contract() => CheckContract(MatMulBackendRegistry.OneDnn);

    [NativeBackendFact(MatMulBackendRegistry.Mkl)]
    public void Mkl_contract() => CheckContract(MatMulBackendRegistry.Mkl);

    private static void CheckContract(string name)
    {
        var backend = MatMulBackendRegistry.Create(name, threads: 2);
        Assert.Equal(name, backend.Name);
        var packed = backend.Pack(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);

        // Zero rows: nothing is written.
        var c = new float[] { 7, 7, 7 };
        backend.Multiply([], 0, packed, [], c);
        Assert.Equal(new float[] { 7, 7, 7 }, c);

        // One row, exact small integers: [1 10] · [[1 2 3] [4 5 6]] + [100 200 300].
        backend.Multiply([1, 10], 1, packed, [100, 200, 300], c);
        Assert.Equal(new float[] { 141, 252, 363 }, c);

        var foreign = new ManagedMatMul().Pack(new float[6], 2, 3);
        var fromOtherInstance = MatMulBackendRegistry.Create(name).Pack(new float[6], 2, 3);
        Assert.Contains("not by this", Assert.Throws<ArgumentException>(() => backend.Multiply([1, 1], 1, foreign, [], c)).Message);
        Assert.Contains("not by this", Assert.Throws<ArgumentException>(() => backend.Multiply([1, 1], 1, fromOtherInstance, [], c)).Message);
        Assert.Contains("fewer than 2 rows", Assert.Throws<ArgumentException>(() => backend.Multiply([1, 1, 1], 2, packed, [], new float[6])).Message);
        Assert.Contains("room for 5", Assert.Throws<ArgumentException>(() => backend.Multiply([1, 1, 1, 1], 2, packed, [], new float[5])).Message);
        Assert.Contains("bias has 2", Assert.Throws<ArgumentException>(() => backend.Multiply([1, 1], 1, packed, [1, 2], c)).Message);
        Assert.Throws<ArgumentException>(() => backend.Pack(new float[5], 2, 3));

        // Steady state allocates nothing, with or without bias, directly and through a tuned dispatch.
        var tuned = new TunedMatMul(new MatMulDispatchPlan([new(1, new ManagedMatMul()), new(int.MaxValue, backend)]));
        var tunedPacked = tuned.Pack(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        float[] a = [1, 2, 3, 4, 5, 6, 7, 8], bias = [1, 2, 3], wide = new float[12];
        backend.Multiply(a, 4, packed, bias, wide);
        tuned.Multiply(a, 4, tunedPacked, bias, wide);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 50; i++)
        {
            backend.Multiply(a, 4, packed, bias, wide);
            backend.Multiply(a, 4, packed, default, wide);
            tuned.Multiply(a, 4, tunedPacked, bias, wide);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMulBackendRegistry.Create(name, threads: 0));
    }

    [NativeBackendTheory(MatMulBackendRegistry.OpenBlas)]
    [InlineData(1)]
    [InlineData(2)]
    public void OpenBlas_gives_the_same_bits_wherever_its_operands_lie(int threads) => CheckAlignmentIndependence(MatMulBackendRegistry.OpenBlas, threads);

    [NativeBackendTheory(MatMulBackendRegistry.OneDnn)]
    [InlineData(1)]
    [InlineData(2)]
    public void OneDnn_gives_the_same_bits_wherever_its_operands_lie(int threads) => CheckAlignmentIndependence(MatMulBackendRegistry.OneDnn, threads);

    /// <summary>
    /// Without its conditional numerical reproducibility mode MKL picks code paths by the operands' alignment, so a row
    /// multiplied twice from two places in memory could differ in its last bits (seen with MKL limited to AVX): a replayed
    /// record would not reproduce its output bitwise on the same backend.
    /// </summary>
    [NativeBackendTheory(MatMulBackendRegistry.Mkl)]
    [InlineData(1)]
    [InlineData(2)]
    public void Mkl_gives_the_same_bits_wherever_its_operands_lie(int threads) => CheckAlignmentIndependence(MatMulBackendRegistry.Mkl, threads);

    private static void CheckAlignmentIndependence(string name, int threads)
    {
        var random = new Random(11);
        var backend = MatMulBackendRegistry.Create(name, threads);
        foreach (var (m, k, n) in new[] { (1, 64, 192), (2, 88, 160), (13, 88, 160), (64, 144, 512) })
        {
            float[] Values(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            var a = Values(m * k);
            var bias = Values(n);
            var packed = backend.Pack(Values(k * n), k, n);
            float[]? first = null;
            // Every float offset within a 64-byte line, for A and for C at once and apart.
            for (var offset = 0; offset < 32; offset++)
            {
                int aAt = offset % 16, cAt = offset < 16 ? offset : (offset * 7) % 16;
                var aBuffer = new float[m * k + 16];
                a.CopyTo(aBuffer, aAt);
                var cBuffer = new float[m * n + 16];
                backend.Multiply(aBuffer.AsSpan(aAt, m * k), m, packed, bias, cBuffer.AsSpan(cAt, m * n));
                var c = cBuffer.AsSpan(cAt, m * n).ToArray();
                first ??= c;
                Assert.True(first.AsSpan().SequenceEqual(c), $"{name}, {threads} thread(s), [{m}x{k}]·[{k}x{n}]: A at float {aAt}, C at float {cAt} gave other bits than at 0");
            }
        }

        (backend as IDisposable)?.Dispose();
    }

    [Fact]
    public unsafe void Packed_copy_is_aligned_and_independent_of_the_source()
    {
        // The packed form shared by every native backend; its owner only identifies who may multiply with it.
        for (var trial = 0; trial < 20; trial++)
        {
            var source = Enumerable.Range(0, 37 * 11 + trial).Select(i => (float)i).ToArray();
            var packed = new NativePackedMatrix(new ManagedMatMul(), source.AsSpan(0, 37 * 11), 37, 11);
            Assert.Equal(0, (long)packed.Pointer % 64);
            source[5] = -1;
            Assert.Equal(5f, packed.Pointer[5]);
            Assert.Equal(37 * 11 - 1f, packed.Pointer[37 * 11 - 1]);
        }
    }
}
