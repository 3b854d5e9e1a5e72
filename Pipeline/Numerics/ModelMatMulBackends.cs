using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// The backends chosen for one model: one per LSTM layer (it also packs that layer's projection) and one
/// for the dense head (instances may be shared between matrices: every backend may be used for several), plus
/// one log line per choice. Chosen by configuration name with <c>MatMulBackendRegistry.CreateForModel</c> (Selection).
/// </summary>
public sealed record ModelMatMulBackends(IReadOnlyList<IMatMulBackend> Layers, IMatMulBackend? Head, IReadOnlyList<string> Choices)
{
    /// <summary>The same backend for every layer and the head (a backend packs each matrix separately, so sharing is safe on one thread).</summary>
    public static ModelMatMulBackends Uniform(LstmModel model, IMatMulBackend backend)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backend);
        return new ModelMatMulBackends(
            model.Layers.Select(_ => backend).ToArray(),
            model.Head is null ? null : backend,
            [$"all matrices: {backend.Name}"]);
    }

    /// <summary>Every matrix of <paramref name="model"/> in order (the layers' gate multiplies, then the head's): its label for logs and its shape K × N.</summary>
    internal static IReadOnlyList<(string Label, int K, int N)> Shapes(LstmModel model)
    {
        var shapes = model.Layers.Select((l, i) => (Label: $"layer {i}", K: l.ConcatSize, N: l.GateWidth)).ToList();
        if (model.Head is { } head) shapes.Add(("head", head.InputSize, head.OutputSize));
        return shapes;
    }

    /// <summary>The backends of <see cref="Shapes"/>, in that order (the head's last when the model has one).</summary>
    internal static ModelMatMulBackends FromMatrices(LstmModel model, IMatMulBackend[] backends, string[] choices)
    {
        var layerCount = model.Layers.Count;
        return new ModelMatMulBackends(backends[..layerCount], model.Head is null ? null : backends[layerCount], choices);
    }

    /// <summary>Throws unless there is one backend per layer and one for the head exactly when the model has a head.</summary>
    public void EnsureFits(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Layers.Count != model.Layers.Count)
            throw new ArgumentException($"{Layers.Count} layer backends for a model of {model.Layers.Count} layers");
        if ((Head is null) != (model.Head is null))
            throw new ArgumentException(model.Head is null ? "a head backend for a model without a head" : "no head backend for a model with a head");
    }
}
