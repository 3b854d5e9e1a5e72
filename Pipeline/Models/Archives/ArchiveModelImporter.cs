namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Turns the tensors of a weight archive (<c>.safetensors</c>, <c>.npz</c>) into an <see cref="LstmModel"/>,
/// reading the layer structure from the tensor names: PyTorch <c>nn.LSTM</c>, Keras <c>LSTM</c> or
/// TensorFlow 1 cell variables, plus an optional single dense head. Every tensor must be used;
/// anything unrecognised or inconsistent is a <see cref="ModelFormatException"/> naming the tensor.
/// </summary>
internal static class ArchiveModelImporter
{
    private static readonly IArchiveLayout[] Layouts = [new PyTorchLstmLayout(), new KerasLstmLayout(), new Tf1LstmLayout()];

    /// <summary>Reads <c>.safetensors</c> or <c>.npz</c> (by extension) and builds the model.</summary>
    public static LstmModel Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var extension = Path.GetExtension(path).ToLowerInvariant();
        var tensors = extension switch
        {
            ".safetensors" => SafetensorsReader.Read(path),
            ".npz" => NpzReader.Read(path, (options ?? ModelLoadOptions.Default).MaxModelBytes),
            _ => throw new ModelFormatException($"{path}: '{extension}' is not a weight archive (.safetensors or .npz)"),
        };
        return Import(tensors, path, options);
    }

    /// <summary>Builds the model from already-read tensors; <paramref name="source"/> names the archive in errors.</summary>
    public static LstmModel Import(IReadOnlyDictionary<string, NamedTensor> tensors, string source, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        options ??= ModelLoadOptions.Default;
        var set = new ArchiveTensors(tensors, source);
        if (tensors.Count == 0) throw set.Error("the archive holds no tensors");
        var matching = Layouts.Where(l => l.Recognizes(set)).ToList();
        if (matching.Count == 0)
        {
            var names = string.Join(", ", set.Keys.Take(8).Select(k => $"'{k}' {set.Peek(k).ShapeText}"));
            throw set.Error(
                $"no LSTM weights recognised among {tensors.Count} tensor(s) ({names}{(tensors.Count > 8 ? ", …" : "")}); expected PyTorch nn.LSTM " +
                "(weight_ih_l0, weight_hh_l0, …), Keras LSTM (…/kernel, …/recurrent_kernel, …/bias) or TensorFlow 1 cell variables (…/basic_lstm_cell/kernel, …/lstm_cell/kernel)");
        }

        if (matching.Count > 1)
            throw set.Error($"the tensor names mix several layouts ({string.Join(", ", matching.Select(l => l.Name))}); an archive must hold one model");
        var layout = matching[0];
        LstmModel model;
        try
        {
            model = layout.Build(set, options);
        }
        catch (ArgumentException e)
        {
            throw set.Error($"the {layout.Name} weights do not form a valid model: {e.Message}");
        }

        set.ThrowIfAnyUnused(layout.Name);
        return model;
    }
}
