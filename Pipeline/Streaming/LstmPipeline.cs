using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// Builds the keyed streaming pipeline for a model:
/// <code>
/// control ─► MicroBatcher ─► SessionSlotStage ─► LstmLayerStage 0 … L-1 ─► DenseHeadStage? ─► control
/// </code>
/// Input: <see cref="StepBatch"/> fragments of model-input rows (any size, keys may repeat). Output:
/// micro-batches whose data rows are the model's outputs (head output, or top-layer h), each row with its
/// key, seq, flags and tag; the egress releases them. Per-key order equals input order.
/// <para>
/// The flow is a blueprint: it holds only what is immutable (the model, each layer's weights packed once by its
/// backend as a <see cref="PackedLstmLayer"/>, the head's <see cref="DenseHeadKernel"/>, the options). Every
/// materialization creates its own mutable state in its stages' logic: key → slot map, state arenas, layer kernels
/// with their scratch space, micro-batch buffers. So one blueprint may run any number of times, at once; the
/// materializations share the backends, whose multiplies may run concurrently (a backend's worker threads serve
/// one step at a time; a step that finds them busy runs on its own thread).
/// </para>
/// </summary>
public static class LstmPipeline
{
    /// <param name="model">The model to run.</param>
    /// <param name="backendFactory">Creates the matrix-multiply backend of each layer and of the head; called once
    /// per matrix, here (every materialization of the flow uses these backends).</param>
    /// <param name="options">Batching, threading and session lifecycle (idle timeout, live-key bound, clock).</param>
    public static Flow<StepBatch, StepBatch, LstmPipelineHandle> Create(
        LstmModel model, Func<IMatMulBackend> backendFactory, PipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backendFactory);
        var backends = new ModelMatMulBackends(
            model.Layers.Select(_ => backendFactory()).ToArray(),
            model.Head is null ? null : backendFactory(),
            []);
        return Create(model, backends, options);
    }

    /// <param name="model">The model to run.</param>
    /// <param name="backends">The backend of each layer and of the head (e.g. tuned per shape by
    /// <see cref="Numerics.Selection.MatMulBackendRegistry.CreateForModel"/>).</param>
    /// <param name="options">Batching and threading.</param>
    public static Flow<StepBatch, StepBatch, LstmPipelineHandle> Create(
        LstmModel model, ModelMatMulBackends backends, PipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backends);
        backends.EnsureFits(model);
        options ??= new PipelineOptions();
        // The session stage validates the options (naming the bad setting), before anything else reads them.
        var sessions = new SessionSlotStage(options, model);

        var inner = Flow.FromGraph(new MicroBatcher(options.MaxBatchRows, options.MaxBatchDelay, model.InputSize))
            .ViaMaterialized(sessions, Keep.Right);
        var buffer = Attributes.CreateInputBuffer(options.AsyncBufferBatches, options.AsyncBufferBatches);
        for (var k = 0; k < model.Layers.Count; k++)
        {
            var layer = Flow.FromGraph(new LstmLayerStage(new PackedLstmLayer(model.Layers[k], backends.Layers[k]), k, options.MaxLiveKeys));
            var last = k == model.Layers.Count - 1;
            if (last && model.Head is { } head)
                layer = layer.Via(new DenseHeadStage(new DenseHeadKernel(head, backends.Head!)));
            inner = inner.Via(options.AsyncLayers ? layer.AddAttributes(buffer).Async() : layer);
        }

        var pipeline = BidiFlow.FromGraph(new StateControlStage(model, options.SessionStore))
            .JoinMat(inner, (state, sessions) => new LstmPipelineHandle(state, sessions));
        // With asynchronous layers every boundary buffers batches: keep that small (also where the results
        // come back into the control stage's island), so memory and latency stay bounded.
        return options.AsyncLayers ? pipeline.AddAttributes(buffer) : pipeline;
    }
}
