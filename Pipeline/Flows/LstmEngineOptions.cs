using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// Everything an <see cref="LstmEngine"/> needs, the same settings the service reads from <c>appsettings.json</c>
/// (<c>LstmStream:Model</c>, <c>:Math</c>, <c>:Batch</c>, <c>:Sessions</c>), as one record to fill from code or to
/// bind from configuration.
/// </summary>
public sealed record LstmEngineOptions
{
    /// <summary>The model file (.onnx, .safetensors, .npz) <see cref="LstmEngine.Load"/> reads.</summary>
    public string? ModelPath { get; init; }

    /// <summary>What the model file does not store (TensorFlow 1 forget bias and clips, a weight archive's head activation).</summary>
    public ModelLoadOptions Model { get; init; } = ModelLoadOptions.Default;

    /// <summary>
    /// The matrix-multiply backend: <c>auto</c> (each layer's fastest available backend, measured at start),
    /// <c>managed</c>, <c>mkl</c>, <c>openblas</c> or <c>onednn</c> (native libraries are looked up at run time).
    /// </summary>
    public string Backend { get; init; } = MatMulBackendRegistry.Auto;

    /// <summary>Threads per matrix multiply (at least 1).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Batching, layer threading and the keys' session lifecycle (idle timeout, live-key bound).</summary>
    public PipelineOptions Pipeline { get; init; } = new();

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the setting (e.g. <c>Pipeline.MaxBatchRows</c>) when one is
    /// missing or out of range. <paramref name="needsModelPath"/>: whether <see cref="ModelPath"/> must be set.
    /// </summary>
    public void Validate(bool needsModelPath = true)
    {
        if (needsModelPath && string.IsNullOrWhiteSpace(ModelPath))
            throw new ArgumentException($"{nameof(ModelPath)} must name a model file (.onnx, .safetensors, .npz)");
        if (Model is null) throw new ArgumentException($"{nameof(Model)} must be set (the default is {nameof(ModelLoadOptions)}.{nameof(ModelLoadOptions.Default)})");
        if (Threads <= 0) throw new ArgumentException($"{nameof(Threads)} must be positive, got {Threads}");
        try
        {
            MatMulBackendRegistry.Normalize(Backend ?? "");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{nameof(Backend)}: {e.Message}", e);
        }

        if (Pipeline is null) throw new ArgumentException($"{nameof(Pipeline)} must be set");
        try
        {
            Pipeline.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{nameof(Pipeline)}.{e.Message}", e);
        }
    }
}
