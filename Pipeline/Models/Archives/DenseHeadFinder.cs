namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Finds the one dense layer left in an archive after its LSTM stack was taken: a group of tensors that
/// share a scope and hold a 2-D weight plus an optional bias.
/// </summary>
internal static class DenseHeadFinder
{
    /// <param name="separator">The scope separator ('.' for PyTorch, '/' for TensorFlow and Keras).</param>
    /// <param name="weightNames">Accepted last name parts of the weight (e.g. "weight", or "kernel" and "weights").</param>
    /// <param name="biasNames">Accepted last name parts of the bias.</param>
    /// <param name="weightIsOutputMajor">True when the weight is <c>[K × In]</c> (PyTorch Linear), false for <c>[In × K]</c>.</param>
    public static DenseHead? Find(ArchiveTensors tensors, char separator, string[] weightNames, string[] biasNames,
        bool weightIsOutputMajor, int inputSize, ModelLoadOptions options)
    {
        var candidates = new List<(string Scope, string WeightKey)>();
        foreach (var key in tensors.UnusedKeys)
        {
            int cut = key.LastIndexOf(separator);
            var last = cut < 0 ? key : key[(cut + 1)..];
            if (weightNames.Contains(last) && tensors.Peek(key).Rank == 2) candidates.Add((cut < 0 ? "" : key[..cut], key));
        }

        if (candidates.Count == 0)
        {
            if (options.HeadActivation != HeadActivation.None)
                throw tensors.Error($"head activation {options.HeadActivation} is set but the archive has no dense layer after the LSTM");
            return null;
        }

        if (candidates.Count > 1)
            throw tensors.Error(
                $"more than one dense layer follows the LSTM ({string.Join(", ", candidates.Select(c => $"'{c.WeightKey}' {tensors.Peek(c.WeightKey).ShapeText}"))}); only a single dense head is supported");

        var (scope, weightKey) = candidates[0];
        var weight = tensors.Take(weightKey, "dense weight");
        int rows = weight.Shape[0], columns = weight.Shape[1];
        int outputs = weightIsOutputMajor ? rows : columns;
        int inputs = weightIsOutputMajor ? columns : rows;
        if (inputs != inputSize)
        {
            var expected = weightIsOutputMajor ? $"[{outputs}, {inputSize}]" : $"[{inputSize}, {outputs}]";
            throw tensors.Error($"dense weight '{weight.Name}' has shape {weight.ShapeText}, expected {expected}: its input must be the top LSTM layer's output width {inputSize}");
        }

        NamedTensor? bias = null;
        foreach (var biasName in biasNames)
        {
            var key = scope.Length == 0 ? biasName : scope + separator + biasName;
            if (tensors.TryTake(key) is { } b)
            {
                bias = b;
                break;
            }
        }

        if (bias is not null) tensors.ExpectShape(bias, "dense bias", outputs);
        var weights = weightIsOutputMajor ? GateBlocks.Transpose(weight.Values, rows, columns) : (float[])weight.Values.Clone();
        return new DenseHead(inputSize, outputs, weights, bias is null ? new float[outputs] : (float[])bias.Values.Clone(), options.HeadActivation);
    }
}
