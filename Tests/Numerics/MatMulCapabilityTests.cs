using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>
/// What a backend offers a layer step (<see cref="IMatMulBackend.CapabilityFor"/>), how a packed layer reads it, and
/// packed layers shared by kernels that step at once.
/// </summary>
public sealed class MatMulCapabilityTests
{
    /// <summary>A backend that only multiplies: it says nothing beyond the interface's defaults.</summary>
    private sealed class MultiplyOnly(IMatMulBackend inner) : IMatMulBackend
    {
        public string Name => "multiply-only " + inner.Name;

        public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns) => inner.Pack(b, rows, columns);

        public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c) =>
            inner.Multiply(a, m, b, bias, c);
    }

    [Theory]
    [InlineData(1, 128)]
    [InlineData(2, 256)]
    [InlineData(2, 512)]
    public void The_managed_backend_offers_a_fused_step_at_its_vector_width_on_its_threads(int threads, int bits)
    {
        using var managed = new ManagedMatMul(threads, bits);
        foreach (var rows in new[] { 1, 7, 1000 })
        {
            var capability = ((IMatMulBackend)managed).CapabilityFor(rows);
            Assert.True(capability.HasFusedStep);
            Assert.Equal((threads, bits), (capability.Threads, capability.VectorBits));
        }

        Assert.Equal([((IMatMulBackend)managed).CapabilityFor(1)], ((IMatMulBackend)managed).Capabilities);
    }

    [Fact]
    public void A_backend_that_only_multiplies_offers_no_fused_step_and_its_layers_never_fuse()
    {
        IMatMulBackend backend = new MultiplyOnly(new ManagedMatMul());
        Assert.Same(MatMulCapability.MultiplyOnly, backend.CapabilityFor(64));
        Assert.Equal([MatMulCapability.MultiplyOnly], backend.Capabilities);
        Assert.False(MatMulCapability.MultiplyOnly.HasFusedStep);

        var layer = ReferenceLstmCell.RandomLayer(new Random(1), 6, 32);
        var packed = new PackedLstmLayer(layer, backend);
        Assert.False(packed.IsFusedFor(1));
        Assert.False(packed.IsFusedFor(500));
    }

    [Fact]
    public void A_packed_layer_fuses_only_at_the_vector_width_the_backend_offers()
    {
        var layer = ReferenceLstmCell.RandomLayer(new Random(2), 6, 32);
        using var managed = new ManagedMatMul(1, 256);
        Assert.True(new PackedLstmLayer(layer, managed, 256).IsFusedFor(64));
        Assert.False(new PackedLstmLayer(layer, managed, 128).IsFusedFor(64));
        Assert.Equal(256, new PackedLstmLayer(layer, managed, 256).VectorBits);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Kernels_sharing_one_packed_layer_step_at_once_exactly_as_a_kernel_stepping_alone(int threads)
    {
        // Each kernel keeps its own scratch space and fused-step operands; the packed weights and the backend (with two
        // threads, one worker pool that serves one step at a time) are shared. Row counts vary so the scratch grows.
        const int kernels = 4, steps = 30;
        var rng = new Random(5 + threads);
        var layer = ReferenceLstmCell.RandomLayer(rng, 9, 40, peepholes: true, cellClip: 1.2f, scale: 2f);
        using var managed = new ManagedMatMul(threads);
        var packed = new PackedLstmLayer(layer, managed);
        var rowCounts = Enumerable.Range(0, steps).Select(s => 1 + (s * 37) % 300).ToArray();
        var inputs = Enumerable.Range(0, kernels)
            .Select(_ => rowCounts.Select(rows => ReferenceLstmCell.RandomValues(rng, rows * layer.InputSize, 2f)).ToArray())
            .ToArray();

        // Each kernel's rows: 300 keys of state in tables; a step takes the first `rows` of them.
        (float[] H, float[] C, List<float[]> Outputs) Run(LstmLayerKernel kernel, float[][] xs)
        {
            var h = new float[300 * layer.OutputSize];
            var c = new float[300 * layer.CellSize];
            var outputs = new List<float[]>();
            var index = Enumerable.Range(0, 300).Reverse().ToArray();
            for (var s = 0; s < steps; s++)
            {
                var rows = rowCounts[s];
                var output = new float[rows * layer.OutputSize];
                kernel.StepInPlace(rows, xs[s], h, c, index.AsSpan(0, rows), output);
                outputs.Add(output);
            }

            return (h, c, outputs);
        }

        var alone = inputs.Select(xs => Run(new LstmLayerKernel(layer, new ManagedMatMul()), xs)).ToArray();

        using var start = new Barrier(kernels);
        var together = Enumerable.Range(0, kernels)
            .Select(k => Task.Factory.StartNew(() =>
            {
                var kernel = new LstmLayerKernel(packed);
                start.SignalAndWait();
                return Run(kernel, inputs[k]);
            }, TaskCreationOptions.LongRunning))
            .ToArray();
        var results = await Task.WhenAll(together).WaitAsync(TimeSpan.FromSeconds(60));

        for (var k = 0; k < kernels; k++)
        {
            Assert.Equal(alone[k].H, results[k].H);
            Assert.Equal(alone[k].C, results[k].C);
            for (var s = 0; s < steps; s++) Assert.Equal(alone[k].Outputs[s], results[k].Outputs[s]);
        }
    }
}
