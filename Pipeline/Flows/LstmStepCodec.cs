using System.Globalization;
using System.Numerics.Tensors;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The typed ends of <see cref="LstmFlow"/>, joined around <see cref="LstmPipeline"/>:
/// <code>
/// LstmStep ─► validate, copy into fragments ─► StepBatch ─► (pipeline) ─► StepBatch ─► one LstmOutput (or LstmDuplicate) per row ─► LstmResult
///                  └─ invalid: LstmStepRejected ───────────────────────────────────────────────┘
/// </code>
/// A valid step is copied into the open fragment (rented, <see cref="FragmentRowsFor"/> rows: a few micro-batches;
/// the pipeline's batcher cuts it into micro-batches), tagged by <see cref="InFlightSteps"/>; the fragment
/// goes to the pipeline as soon as the pipeline asks. The output micro-batches come back gathered into larger
/// batches (<see cref="OutputBatchGatherer"/>: one hand-over for many), read row by row and released after their last
/// row. An invalid step becomes an <see cref="LstmStepRejected"/> (what the command line writes for a bad line) and
/// is emitted right after the output of the key's last step still in the pipeline, or at once when it has none in
/// flight, so a key's results keep its steps' order. Per valid step: no hashing and no allocation but its result.
/// The fragmenting, the hand-over and the rejections' parking are <see cref="StepCodecLogic{TIn, TOut}"/>'s, shared
/// with the batched flow's <see cref="LstmBatchCodec"/>; this stage reads one step and writes one result per element.
/// <para>
/// Bounded: at most one open fragment, one output batch being emitted and
/// <see cref="MaxWaitingRejections"/> rejections waiting; while any of these is full the stage stops pulling steps.
/// </para>
/// </summary>
internal sealed class LstmStepCodec : GraphStageWithMaterializedValue<BidiShape<LstmStep, StepBatch, StepBatch, LstmResult>, LstmStepCounters>
{
    /// <summary>Rejections held (waiting for demand or for earlier steps' outputs) before steps stop being pulled.</summary>
    internal const int MaxWaitingRejections = 256;

    /// <summary>
    /// Micro-batches a fragment holds at most (<c>MaxBatchRows</c> rows each, at most <see cref="FragmentRows"/> rows
    /// in all, at least one micro-batch): fragments are handed to the model's island one at a time, so a fragment of
    /// several micro-batches spreads the hand-over's cost over them; more would make the model's island run so long
    /// on one fragment that the outputs' hand-overs wait for its end (bursts of a whole fragment's outputs).
    /// </summary>
    internal const int MicroBatchesPerFragment = 4;

    /// <summary>Most rows of a fragment when <c>MaxBatchRows</c> is smaller.</summary>
    internal const int FragmentRows = 1024;

    /// <summary>
    /// Fewest rows a fragment may hold, however small the micro-batches: with few keys a micro-batch holds a row or a
    /// few (one step per key), and fragments of a few rows would cost each step a hand-over between the islands, the
    /// model's island waiting for the caller's to wake and the other way round (one key at a time ran at half the
    /// pooled path's speed with fragments of 4 rows).
    /// </summary>
    internal const int MinFragmentRows = 256;

    private readonly Inlet<LstmStep> _steps = new("LstmFlow.steps");
    private readonly Outlet<StepBatch> _toPipeline = new("LstmFlow.toPipeline");
    private readonly Inlet<StepBatch> _fromPipeline = new("LstmFlow.fromPipeline");
    private readonly Outlet<LstmResult> _results = new("LstmFlow.results");
    private readonly LstmEngine _engine;

    public LstmStepCodec(LstmEngine engine)
    {
        _engine = engine;
        Shape = new BidiShape<LstmStep, StepBatch, StepBatch, LstmResult>(_steps, _toPipeline, _fromPipeline, _results);
    }

    public override BidiShape<LstmStep, StepBatch, StepBatch, LstmResult> Shape { get; }

    /// <summary>Rows of a fragment (and of a gathered output batch) for micro-batches of <paramref name="maxBatchRows"/> rows.</summary>
    internal static int FragmentRowsFor(int maxBatchRows) =>
        Math.Max(maxBatchRows, (int)Math.Min(FragmentRows, Math.Max(MinFragmentRows, (long)maxBatchRows * MicroBatchesPerFragment)));

    protected override Attributes InitialAttributes => Attributes.CreateName("LstmFlow");

    public override ILogicAndMaterializedValue<LstmStepCounters> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var counters = new LstmStepCounters();
        return new LogicAndMaterializedValue<LstmStepCounters>(new Logic(this, counters), counters);
    }

    /// <summary>
    /// The reason <paramref name="step"/> cannot be run by a model of <paramref name="inputSize"/> inputs, with the
    /// field at fault (the command line's wording), or null when it is valid.
    /// </summary>
    internal static (string Field, string Reason)? Check(LstmStep step, int inputSize)
    {
        if (step.Key is null) return (RecordFields.Key, "missing");
        if (step.Key.Length == 0) return (RecordFields.Key, "must not be empty");
        var x = step.X.Span;
        if (x.Length != inputSize)
            return (RecordFields.X, $"has {x.Length} value{(x.Length == 1 ? "" : "s")}, the model's input size is {inputSize}");
        if (TensorPrimitives.IsFiniteAll(x)) return null;
        for (var i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(x[i]))
                return (RecordFields.X, $"x[{i}] = {x[i].ToString(CultureInfo.InvariantCulture)} is not a finite 32-bit float");
        }

        return null;
    }

    private sealed class Logic(LstmStepCodec stage, LstmStepCounters counters)
        : StepCodecLogic<LstmStep, LstmResult>(stage.Shape, stage._engine, counters, FragmentRowsFor(stage._engine.PipelineOptions.MaxBatchRows))
    {
        protected override void OnInput()
        {
            Take(Grab(Steps));
            PullSteps();
        }

        /// <summary>Emits the next result when there is demand: waiting rejections first, then the next output row.</summary>
        protected override void Emit()
        {
            if (!IsAvailable(Results)) return;
            if (TryTakeReady(out var rejected))
            {
                Push(Results, rejected);
                PullSteps();
            }
            else if (Batch is { } batch)
            {
                Push(Results, Output(batch, Row));
                if (++Row == batch.Count) BatchDone();
            }
            else if (IsClosed(FromPipeline))
            {
                Complete(Results);
                return;
            }
            else
            {
                return;
            }

            if (AllEmitted) Complete(Results);
        }

        /// <summary>Row <paramref name="row"/> as an output (or a duplicate); rejections that waited for it become ready.</summary>
        private LstmResult Output(StepBatch batch, int row)
        {
            var key = batch.Keys[row];
            var flags = batch.Flags[row];
            var seq = (flags & StepFlags.HasSeq) != 0 ? batch.Seq[row] : (long?)null;
            LstmResult output;
            if ((flags & StepFlags.Duplicate) != 0)
            {
                output = new LstmDuplicate(key, batch.Seq[row]);
                Counters.CountDuplicate();
            }
            else
            {
                output = new LstmOutput(key, seq, batch.Row(row).ToArray());
                Counters.CountOutput();
            }

            CompleteRow(batch.Tags[row]);
            return output;
        }
    }
}
