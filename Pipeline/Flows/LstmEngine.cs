using Akka.Streams.Dsl;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// A loaded model with its matrix-multiply backends chosen and its pipeline options: what <see cref="LstmFlow"/>
/// runs. Created once (loading and <c>auto</c> tuning take a moment); every flow made from it shares the model
/// and the backends. One materialized flow of an engine runs at a time: a second one materialized while the
/// first is still running fails at once (create a second engine for a second concurrent stream).
/// Dispose the engine after its streams have finished: that disposes the backends that hold resources.
/// </summary>
public sealed class LstmEngine : IDisposable
{
    private readonly ModelMatMulBackends _backends;
    private int _running;

    private LstmEngine(LstmModel model, ModelMatMulBackends backends, string backend, PipelineOptions options)
    {
        Model = model;
        _backends = backends;
        Backend = backend;
        PipelineOptions = options;
    }

    /// <summary>
    /// Loads <see cref="LstmEngineOptions.ModelPath"/> and chooses the backends.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range (the message names it).</exception>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="ModelFormatException">The file is not a supported model.</exception>
    /// <exception cref="Numerics.Native.MatMulBackendUnavailableException">A named native backend's library is not installed.</exception>
    public static LstmEngine Load(LstmEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Create(ModelLoader.Load(options.ModelPath!, options.Model), options);
    }

    /// <summary>
    /// An engine for a model already in memory (<see cref="LstmEngineOptions.ModelPath"/> and
    /// <see cref="LstmEngineOptions.Model"/> are not used); <paramref name="options"/> null: the defaults.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is out of range (the message names it).</exception>
    /// <exception cref="Numerics.Native.MatMulBackendUnavailableException">A named native backend's library is not installed.</exception>
    public static LstmEngine Create(LstmModel model, LstmEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new LstmEngineOptions();
        options.Validate(needsModelPath: false);
        var backend = MatMulBackendRegistry.Normalize(options.Backend);
        var backends = MatMulBackendRegistry.CreateForModel(backend, options.Threads, model);
        return new LstmEngine(model, backends, backend, options.Pipeline);
    }

    /// <summary>An engine on backends already chosen (the benchmarks time the typed flow on the fast path's backends).</summary>
    internal static LstmEngine Create(LstmModel model, ModelMatMulBackends backends, PipelineOptions options)
    {
        backends.EnsureFits(model);
        options.Validate();
        return new LstmEngine(model, backends, "given", options);
    }

    /// <summary>The model the engine runs.</summary>
    public LstmModel Model { get; }

    /// <summary>The configured backend name in canonical form (<c>auto</c>, <c>managed</c>, …).</summary>
    public string Backend { get; }

    /// <summary>One line per matrix saying which backend runs it (what <c>auto</c> chose).</summary>
    public IReadOnlyList<string> BackendChoices => _backends.Choices;

    /// <summary>The pipeline's batching, threading and session options.</summary>
    public PipelineOptions PipelineOptions { get; }

    /// <summary>
    /// The pooled-buffer fast path on this engine's model and backends: <see cref="LstmPipeline"/> over
    /// <see cref="StepBatch"/> fragments (the caller fills rented batches and releases the outputs).
    /// </summary>
    public Flow<StepBatch, StepBatch, LstmPipelineHandle> CreatePipeline() => LstmPipeline.Create(Model, _backends, PipelineOptions);

    /// <summary>Marks a materialized flow as running; false when one already is.</summary>
    internal bool TryStartRun() => Interlocked.CompareExchange(ref _running, 1, 0) == 0;

    /// <summary>The running flow has stopped.</summary>
    internal void EndRun() => Volatile.Write(ref _running, 0);

    /// <summary>Disposes the backends that are disposable (worker threads). Flows of this engine must not run afterwards.</summary>
    public void Dispose()
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var backend in _backends.Layers.Append(_backends.Head).OfType<IDisposable>())
        {
            if (seen.Add(backend)) backend.Dispose();
        }
    }
}
