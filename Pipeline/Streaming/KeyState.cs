using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// One key's recurrent state as plain arrays, read out of a running pipeline or to be put back into one:
/// per layer k, <c>C[k]</c> has the layer's <see cref="LstmLayer.CellSize"/> values and <c>H[k]</c> its
/// <see cref="LstmLayer.OutputSize"/> values. <see cref="ModelIdentity"/> is the <see cref="LstmModel.Identity"/>
/// of the model that produced it; state is only ever put back into the same model. <see cref="LastSeq"/> is the
/// <c>seq</c> of the last step applied to this state (null: no step with a <c>seq</c> yet), so a stored state
/// also tells which records it already covers.
/// </summary>
public sealed record KeyState(string ModelIdentity, string Key, float[][] C, float[][] H)
{
    /// <summary>The <c>seq</c> of the last step applied to this state; null when none carried one.</summary>
    public long? LastSeq { get; init; }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the key, the layer and the field when this state
    /// does not belong to <paramref name="model"/> (other identity, layer count or row sizes).
    /// </summary>
    public void ValidateFor(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Key is null) throw new ArgumentException("key state has no key");
        if (ModelIdentity != model.Identity)
            throw new ArgumentException(
                $"state of key '{Key}' belongs to model '{ModelIdentity}', this pipeline runs model '{model.Identity}'");
        if (C is null || H is null)
            throw new ArgumentException($"state of key '{Key}' has no C or H arrays");
        if (C.Length != model.Layers.Count || H.Length != model.Layers.Count)
            throw new ArgumentException(
                $"state of key '{Key}' has {C.Length} C and {H.Length} H layers, the model has {model.Layers.Count} layers");
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var layer = model.Layers[k];
            if (C[k] is null || C[k].Length != layer.CellSize)
                throw new ArgumentException(
                    $"state of key '{Key}': layer {k} C has {C[k]?.Length ?? 0} values, expected {layer.CellSize}");
            if (H[k] is null || H[k].Length != layer.OutputSize)
                throw new ArgumentException(
                    $"state of key '{Key}': layer {k} H has {H[k]?.Length ?? 0} values, expected {layer.OutputSize}");
        }
    }
}
