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
/// To route rejections elsewhere: <c>.DivertTo(errorSink, r =&gt; r is LstmStepRejected)</c>. Where steps arrive in
/// batches (a Kafka poll, a parsed file chunk) or the model is small, <see cref="CreateBatched"/> takes and gives
/// batches: one Akka element per batch instead of per step, no object per result. For the pooled-buffer path
/// underneath use <see cref="LstmEngine.CreatePipeline"/>.
/// </para>
/// </summary>
public static class LstmFlow
{
    /// <summary>A flow of <paramref name="engine"/>'s model from steps to results (see <see cref="LstmFlow"/>).</summary>
    public static Flow<LstmStep, LstmResult, LstmFlowHandle> Create(LstmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return Around(engine, new LstmStepCodec(engine), LstmStepCodec.FragmentRowsFor(engine.PipelineOptions.MaxBatchRows), modelIsland: true);
    }

    /// <summary>
    /// A flow of <paramref name="engine"/>'s model from batches of steps to batches of results: the same steps,
    /// checks, per-key order and handle as <see cref="Create"/>, with one Akka element per batch. Every step of every
    /// input batch gives exactly one row of some <see cref="LstmResultBatch"/> (an output, a duplicate or a
    /// rejection); output batches do not match input batches one to one (see <see cref="LstmResultBatch"/>). A null
    /// step in a batch is rejected like a step without a key. The input lists are read when their turn comes and
    /// not kept afterwards: the caller may reuse a list (and its steps' memory) once the flow has pulled the next
    /// one. An empty input batch gives nothing. An array or a <c>List&lt;LstmStep&gt;</c> is read as a span (any
    /// other list step by step). The flow is fused into the caller's island with the model, as the pooled path
    /// (<see cref="LstmEngine.CreatePipeline"/>) is: per step it adds the checks and a few copies, no hand-over between
    /// threads; <c>.Async()</c> before it runs the caller's stages on another thread.
    /// <code>
    /// var (handle, done) = polls                                    // Source&lt;IReadOnlyList&lt;Reading&gt;, …&gt;
    ///     .Select(IReadOnlyList&lt;LstmStep&gt; (poll) =&gt; poll.Select(r =&gt; new LstmStep(r.Sensor, r.Values, r.Seq)).ToArray())
    ///     .ViaMaterialized(LstmFlow.CreateBatched(engine), Keep.Right)
    ///     .ToMaterialized(Sink.ForEach&lt;LstmResultBatch&gt;(batch =&gt; { foreach (var row in batch) … }), Keep.Both)
    ///     .Run(materializer);
    /// </code>
    /// </summary>
    public static Flow<IReadOnlyList<LstmStep>, LstmResultBatch, LstmFlowHandle> CreateBatched(LstmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return Around(engine, new LstmBatchCodec(engine), LstmBatchCodec.FragmentRowsFor(engine.PipelineOptions.MaxBatchRows), modelIsland: false);
    }

    /// <summary>
    /// <paramref name="codec"/> joined around the engine's pipeline (<paramref name="fragmentRows"/>: the codec's fragment rows, also
    /// those of a gathered output batch). <paramref name="modelIsland"/>: the model runs in an
    /// island of its own (the per-record flow: its caller's graph costs an element per step, which then runs on another
    /// core beside the model); otherwise everything is fused into the caller's island, as the pooled path is (the
    /// batched flow: its codec costs a few copies per step, less than a hand-over between islands would).
    /// </summary>
    private static Flow<TIn, TOut, LstmFlowHandle> Around<TIn, TOut>(LstmEngine engine,
        Akka.Streams.Stage.GraphStageWithMaterializedValue<BidiShape<TIn, StepBatch, StepBatch, TOut>, LstmStepCounters> codec, int fragmentRows,
        bool modelIsland)
    {
        // With a model island: while it steps one micro-batch, the caller's island validates and copies the next
        // steps into a fragment (one hand-over per fragment, not per step) and turns earlier outputs into results.
        // One fragment waits at the boundary, so fragments grow while the model is busy; on the way back, the output
        // micro-batches of a burst are copied into one batch (one hand-over for many). Fused, the gatherer still joins
        // the one-row micro-batches of a few keys into one result batch, and passes larger ones on as they are.
        var pipeline = engine.CreatePipeline()
            .Via(new OutputBatchGatherer(fragmentRows, engine.Model.OutputSize, adopt: !modelIsland));
        if (modelIsland) pipeline = pipeline.AddAttributes(Attributes.CreateInputBuffer(1, 1)).Async();
        return BidiFlow.FromGraph(codec.AddAttributes(Attributes.CreateInputBuffer(2, 2)))
            .JoinMat(pipeline, (steps, handle) => new LstmFlowHandle(handle.State, handle.Sessions, steps));
    }
}
