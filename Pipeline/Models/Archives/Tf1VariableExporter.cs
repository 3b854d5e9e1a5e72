namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Writes a model's weights as TensorFlow 1 variables — <c>{scope}/multi_rnn_cell/cell_{k}/lstm_cell/kernel</c>,
/// <c>bias</c>, peepholes <c>w_i_diag</c>/<c>w_f_diag</c>/<c>w_o_diag</c>, <c>projection/kernel</c>, and a head as
/// <c>dense/kernel</c>, <c>dense/bias</c> — the layout <see cref="ArchiveModelImporter"/> reads back. The internal
/// layout is TensorFlow 1's, so weights are copied; the <c>forgetBias</c> argument is taken out of the forget-gate
/// bias, as TensorFlow stores it. Settings the variables cannot carry (cell clip, projection clip, head activation)
/// are returned as the <see cref="ModelLoadOptions"/> that load the same model again (bit-exact when
/// <c>forgetBias</c> is 0; otherwise the forget-gate bias may differ in the last bit).
/// </summary>
internal static class Tf1VariableExporter
{
    public static (IReadOnlyList<NamedTensor> Tensors, ModelLoadOptions Options) Export(LstmModel model, float forgetBias = 1.0f, string scope = "rnn")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        var first = model.Layers[0];
        foreach (var (layer, k) in model.Layers.Select((l, k) => (l, k)))
        {
            if (layer.GateClip is not null || layer.InputForget)
                throw new ArgumentException($"layer {k} uses ONNX clip or input_forget, which TensorFlow 1 LSTM cells cannot express", nameof(model));
            if (layer.CellClip != first.CellClip)
                throw new ArgumentException($"layer {k} has cell clip {layer.CellClip?.ToString() ?? "none"} but layer 0 has {first.CellClip?.ToString() ?? "none"}; TensorFlow 1 options carry one cell clip for all cells", nameof(model));
        }

        var projectionClips = model.Layers.Where(l => l.HasProjection).Select(l => l.ProjectionClip).Distinct().ToList();
        if (projectionClips.Count > 1)
            throw new ArgumentException("layers have different projection clips; TensorFlow 1 options carry one for all cells", nameof(model));

        var tensors = new List<NamedTensor>();
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var layer = model.Layers[k];
            var cell = model.Layers.Count == 1 ? $"{scope}/lstm_cell" : $"{scope}/multi_rnn_cell/cell_{k}/lstm_cell";
            int n = layer.CellSize;
            tensors.Add(new NamedTensor($"{cell}/kernel", [layer.ConcatSize, 4 * n], (float[])layer.Kernel.Clone()));
            var bias = (float[])layer.Bias.Clone();
            for (var u = 0; u < n; u++) bias[2 * n + u] -= forgetBias;
            tensors.Add(new NamedTensor($"{cell}/bias", [4 * n], bias));
            if (layer.HasPeepholes)
            {
                tensors.Add(new NamedTensor($"{cell}/w_i_diag", [n], (float[])layer.PeepholeInput!.Clone()));
                tensors.Add(new NamedTensor($"{cell}/w_f_diag", [n], (float[])layer.PeepholeForget!.Clone()));
                tensors.Add(new NamedTensor($"{cell}/w_o_diag", [n], (float[])layer.PeepholeOutput!.Clone()));
            }

            if (layer.Projection is { } projection)
                tensors.Add(new NamedTensor($"{cell}/projection/kernel", [n, layer.OutputSize], (float[])projection.Clone()));
        }

        if (model.Head is { } head)
        {
            tensors.Add(new NamedTensor("dense/kernel", [head.InputSize, head.OutputSize], (float[])head.Weights.Clone()));
            tensors.Add(new NamedTensor("dense/bias", [head.OutputSize], (float[])head.Bias.Clone()));
        }

        var options = new ModelLoadOptions
        {
            ForgetBias = forgetBias,
            CellClip = first.CellClip,
            ProjectionClip = projectionClips.Count == 1 ? projectionClips[0] : null,
            HeadActivation = model.Head?.Activation ?? HeadActivation.None,
        };
        return (tensors, options);
    }
}
