using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The model as one stage of an Akka.Streams graph, in the style of Akka's own <c>Flow</c> helpers:
/// <code>
/// using var engine = LstmEngine.Load(new LstmEngineOptions { ModelPath = "sensor.onnx" });
/// var (handle, done) = readings
///     .Select(r => new LstmStep(r.Sensor, r.Values, r.Seq))
///     .ViaMaterialized(LstmFlow.Create(engine), Keep.Right)
///     .ToMaterialized(Sink.ForEach&lt;LstmResult&gt;(Handle), Keep.Both)
///     .Run(materializer);
/// </code>
/// Each <see cref="LstmStep"/> gives exactly one <see cref="LstmResult"/>: an <see cref="LstmOutput"/>, or an
/// <see cref="LstmStepRejected"/> for a step the model cannot take (empty key, wrong <c>x</c> width, a value that is
/// not a finite float: the command line's checks), which never fails the stream. A key's results come in its
/// steps' order. Keys' state lives inside the flow (batched across keys, as in the service); the materialized
/// <see cref="LstmFlowHandle"/> exports, imports, resets and drops it and counts sessions and steps.
/// <para>
/// To route rejections elsewhere: <c>.DivertTo(errorSink, r =&gt; r is LstmStepRejected)</c>. For the
/// pooled-buffer fast path (no object per step) use <see cref="LstmEngine.CreatePipeline"/>.
/// </para>
/// </summary>
public static class LstmFlow
{
    /// <summary>A flow of <paramref name="engine"/>'s model from steps to results (see <see cref="LstmFlow"/>).</summary>
    public static Flow<LstmStep, LstmResult, LstmFlowHandle> Create(LstmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        // The model runs in an island of its own: while it steps one micro-batch, the caller's island validates
        // and copies the next steps into a fragment (one hand-over per fragment, not per step) and turns earlier
        // outputs into results. One fragment waits at the boundary, so fragments grow while the model is busy; on
        // the way back, the output micro-batches of a burst are copied into one batch (one hand-over for many).
        var options = engine.PipelineOptions;
        var maxRows = LstmStepCodec.FragmentRowsFor(options.MaxBatchRows);
        var pipeline = engine.CreatePipeline()
            .Via(new OutputBatchGatherer(maxRows, engine.Model.OutputSize))
            .AddAttributes(Attributes.CreateInputBuffer(1, 1))
            .Async();
        return BidiFlow.FromGraph(new LstmStepCodec(engine).AddAttributes(Attributes.CreateInputBuffer(2, 2)))
            .JoinMat(pipeline, (steps, handle) => new LstmFlowHandle(handle.State, handle.Sessions, steps));
    }
}
