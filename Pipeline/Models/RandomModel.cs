namespace LstmStream.Pipeline.Models;

/// <summary>
/// Builds models with seeded random weights (uniform in ±1/√cells, as PyTorch initializes an LSTM):
/// the demo model, benchmark workloads and tests. The same arguments always give the same model.
/// </summary>
public static class RandomModel
{
    /// <summary>
    /// A stack of plain LSTM layers of the given <paramref name="cellSizes"/> on <paramref name="inputSize"/>
    /// inputs, with a dense head of <paramref name="headOutputs"/> outputs when that is positive.
    /// </summary>
    public static LstmModel Create(int inputSize, IReadOnlyList<int> cellSizes, int headOutputs = 0,
        HeadActivation headActivation = HeadActivation.None, int seed = 1, bool peepholes = false, string source = "random")
    {
        ArgumentNullException.ThrowIfNull(cellSizes);
        var random = new Random(seed);
        var layers = new List<LstmLayer>(cellSizes.Count);
        var input = inputSize;
        foreach (var cells in cellSizes)
        {
            var scale = 1f / MathF.Sqrt(cells);
            layers.Add(new LstmLayer(
                input,
                cells,
                Uniform(random, (input + cells) * 4 * cells, scale),
                Uniform(random, 4 * cells, scale),
                peepholes ? Uniform(random, cells, scale) : null,
                peepholes ? Uniform(random, cells, scale) : null,
                peepholes ? Uniform(random, cells, scale) : null));
            input = cells;
        }

        DenseHead? head = null;
        if (headOutputs > 0)
        {
            var scale = 1f / MathF.Sqrt(input);
            head = new DenseHead(input, headOutputs, Uniform(random, input * headOutputs, scale), Uniform(random, headOutputs, scale), headActivation);
        }

        return new LstmModel(layers, head, source);
    }

    private static float[] Uniform(Random random, int count, float scale)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        return values;
    }
}
