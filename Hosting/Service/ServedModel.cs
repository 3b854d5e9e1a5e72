using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Native;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Hosting.Service;

/// <summary>The model <c>serve</c> runs and the math backends chosen for it (<c>LstmStream:Model</c>, <c>LstmStream:Math</c>).</summary>
/// <param name="Model">The loaded model.</param>
/// <param name="Backends">One matrix-multiply backend per layer matrix (tuned when the setting is <c>auto</c>).</param>
/// <param name="BackendName">The configured backend, normalized (<c>auto</c>, <c>managed</c>, …).</param>
public sealed record ServedModel(LstmModel Model, ModelMatMulBackends Backends, string BackendName)
{
    /// <summary>
    /// Loads the model the settings name (a relative path: the current directory, then <paramref name="contentRoot"/>)
    /// and creates its backends.
    /// </summary>
    /// <exception cref="ServiceStartException">The model file is missing or unreadable, or the backend is unavailable; the message names the setting.</exception>
    public static ServedModel Load(ServiceOptions options, string contentRoot)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = ModelFile.Resolve(options.Model.Path, contentRoot)
                   ?? throw new ServiceStartException($"{ServiceOptions.SectionName}:Model:Path: model file '{options.Model.Path}' does not exist");
        LstmModel model;
        try
        {
            model = ModelLoader.Load(path, options.Model.ToLoadOptions());
        }
        catch (Exception e) when (e is ModelFormatException or IOException or InvalidDataException or ArgumentException or NotSupportedException)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Model:Path: {e.Message}", e);
        }

        var backendName = MatMulBackendRegistry.Normalize(options.Math.Backend);
        try
        {
            return new ServedModel(model, MatMulBackendRegistry.CreateForModel(backendName, options.Math.Threads, model), backendName);
        }
        catch (MatMulBackendUnavailableException e)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Math:Backend: {e.Message}", e);
        }
    }

    /// <summary>For the start-up line: "models/demo.onnx: 4 → lstm 32 → lstm 32 → dense 1 (sigmoid) (2 LSTM layers, 13,697 parameters)".</summary>
    public string Description =>
        $"{Model.Source}: {ModelDescription.OneLine(Model)} ({Model.Layers.Count} LSTM layers, {Model.ParameterCount:N0} parameters)";
}
