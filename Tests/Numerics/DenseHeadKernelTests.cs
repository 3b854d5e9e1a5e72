using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

public sealed class DenseHeadKernelTests
{
    [Theory]
    [InlineData(HeadActivation.Sigmoid, 1)]
    [InlineData(HeadActivation.Tanh, 1)]
    [InlineData(HeadActivation.Sigmoid, 3)]
    public void A_rows_output_does_not_depend_on_the_rows_batched_with_it(HeadActivation activation, int outputs)
    {
        const int inputs = 8;
        const int rows = 37;
        var random = new Random(14);
        var weights = Enumerable.Range(0, inputs * outputs).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var bias = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        using var managed = new ManagedMatMul(1);
        var kernel = new DenseHeadKernel(new DenseHead(inputs, outputs, weights, bias, activation), managed);
        var h = Enumerable.Range(0, rows * inputs).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        var together = new float[rows * outputs];
        kernel.Apply(rows, h, together);
        for (var r = 0; r < rows; r++)
        {
            // The same row alone, and as the last row of a batch of every length up to it.
            var alone = new float[outputs];
            kernel.Apply(1, h.AsSpan(r * inputs, inputs), alone);
            Assert.Equal(together.AsSpan(r * outputs, outputs).ToArray(), alone);
            var prefix = new float[(r + 1) * outputs];
            kernel.Apply(r + 1, h.AsSpan(0, (r + 1) * inputs), prefix);
            Assert.Equal(together.AsSpan(r * outputs, outputs).ToArray(), prefix.AsSpan(r * outputs, outputs).ToArray());
        }
    }
}
