using System.Runtime.InteropServices;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The typed ends of <see cref="LstmFlow.CreateBatched"/>, joined around <see cref="LstmPipeline"/>: as
/// <see cref="LstmStepCodec"/>, with batches for elements on both sides.
/// <code>
/// [LstmStep…] ─► validate, copy into fragments ─► StepBatch ─► (pipeline) ─► StepBatch ─► LstmResultBatch (one y block) ─► out
///                    └─ invalid: LstmStepRejected, a row after its key's last step in flight ────────┘
/// </code>
/// An input batch's steps are taken one by one into the open fragment; when it is full the rest of the input batch
/// waits for the next fragment (the inlet is not pulled meanwhile). Each gathered output batch from the pipeline
/// becomes one <see cref="LstmResultBatch"/> (or several, of at most <see cref="MaxOutputFloats"/> output floats each,
/// so that no array of a batch lands on the large-object heap): its keys and seqs copied row by row, its outputs
/// copied into the batch's block in one copy, the rejections that waited for a row written right after it, and the
/// rejections ready before it first. Per step: no allocation (the caller's <see cref="LstmStep"/> aside); per output
/// batch: the batch, four arrays and the block.
/// </summary>
internal sealed class LstmBatchCodec
    : GraphStageWithMaterializedValue<BidiShape<IReadOnlyList<LstmStep>, StepBatch, StepBatch, LstmResultBatch>, LstmStepCounters>
{
    /// <summary>
    /// Most floats of an output batch's block: 64 KiB, below the large-object heap's 85,000 bytes (arrays there are
    /// collected only with generation 2, a cost per batch the flow must not put on its receivers).
    /// </summary>
    internal const int MaxOutputFloats = 16 * 1024;

    /// <summary>Most rows of an output batch (so that its key array stays off the large-object heap as well).</summary>
    internal const int MaxOutputRows = 8 * 1024;

    private readonly Inlet<IReadOnlyList<LstmStep>> _steps = new("LstmFlow.stepBatches");
    private readonly Outlet<StepBatch> _toPipeline = new("LstmFlow.toPipeline");
    private readonly Inlet<StepBatch> _fromPipeline = new("LstmFlow.fromPipeline");
    private readonly Outlet<LstmResultBatch> _results = new("LstmFlow.resultBatches");
    private readonly LstmEngine _engine;
    private readonly int _width;
    private readonly int _maxRows;

    public LstmBatchCodec(LstmEngine engine)
    {
        _engine = engine;
        _width = engine.Model.OutputSize;
        _maxRows = RowsPerOutputBatch(_width);
        Shape = new BidiShape<IReadOnlyList<LstmStep>, StepBatch, StepBatch, LstmResultBatch>(_steps, _toPipeline, _fromPipeline, _results);
    }

    public override BidiShape<IReadOnlyList<LstmStep>, StepBatch, StepBatch, LstmResultBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("LstmFlow.batched");

    /// <summary>
    /// Rows of a fragment for micro-batches of <paramref name="maxBatchRows"/> rows: as many as the pooled path's callers
    /// hand over (<see cref="LstmStepCodec.FragmentRows"/>, whole micro-batches when these are larger). Fused into the
    /// caller's island there is no hand-over between threads to keep short, and a fragment that does not fill goes after a
    /// round trip through the stage's mailbox as in <see cref="LstmStepCodec"/>; each fragment costs its rent, its
    /// in-flight record and a pass through the batcher, so on small micro-batches the per-record flow's 256 rows cost
    /// the batched one a fragment every four micro-batches of 64 rows where the pooled path had one every sixteen.
    /// </summary>
    internal static int FragmentRowsFor(int maxBatchRows) => Math.Max(maxBatchRows, LstmStepCodec.FragmentRows);

    /// <summary>Most pipeline rows of one output batch for outputs of <paramref name="width"/> floats.</summary>
    internal static int RowsPerOutputBatch(int width) => Math.Clamp(MaxOutputFloats / Math.Max(1, width), 1, MaxOutputRows);

    public override ILogicAndMaterializedValue<LstmStepCounters> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var counters = new LstmStepCounters();
        return new LogicAndMaterializedValue<LstmStepCounters>(new Logic(this, counters), counters);
    }

    private sealed class Logic(LstmBatchCodec stage, LstmStepCounters counters)
        : StepCodecLogic<IReadOnlyList<LstmStep>, LstmResultBatch>(stage.Shape, stage._engine, counters,
            FragmentRowsFor(stage._engine.PipelineOptions.MaxBatchRows))
    {
        // The input batch whose steps are being taken, from _next on.
        private IReadOnlyList<LstmStep>? _input;
        private int _next;
        private bool _taking;

        protected override bool InputPending => _input is not null;

        protected override void OnInput()
        {
            _input = Grab(Steps);
            _next = 0;
            TakeInput();
        }

        protected override void ResumeSteps()
        {
            if (_input is not null) TakeInput();
            else PullSteps();
        }

        /// <summary>Takes the input batch's steps while there is room, then offers the fragment; pulls once all are in.</summary>
        private void TakeInput()
        {
            // A rejection emitted at once resumes the steps from within Take: the loop below goes on by itself.
            if (_taking) return;
            _taking = true;
            var input = _input!;
            var count = input.Count;
            // An array (or a list) of steps is read as a span, its valid steps in one loop; a rejected step or any other
            // list one step at a time.
            var span = input switch
            {
                LstmStep[] array => array,
                List<LstmStep> list => CollectionsMarshal.AsSpan(list),
                _ => default(ReadOnlySpan<LstmStep>),
            };
            while (_next < count && !CannotTake)
            {
                if (!span.IsEmpty && TakeValid(span[_next..]) is var taken and > 0) _next += taken;
                else Take(input[_next++], offer: false);
            }

            if (_next == count) _input = null;
            _taking = false;
            OfferFragmentIfPulled();
            PullSteps();
        }

        /// <summary>
        /// Emits a result batch when there is demand: the ready rejections, then rows of the pipeline's output batch in
        /// hand (at most a batch's worth), each followed by the rejections that waited for it.
        /// </summary>
        protected override void Emit()
        {
            if (!IsAvailable(Results)) return;
            var batch = Batch;
            if (batch is null && ReadyCount == 0)
            {
                if (IsClosed(FromPipeline)) Complete(Results);
                return;
            }

            var width = stage._width;
            var rows = batch is null ? 0 : Math.Min(batch.Count - Row, stage._maxRows);
            var builder = new LstmResultBatch.Builder(rows + Waiting, rows, width);
            TakeReady(builder);
            if (batch is not null)
            {
                var first = Row;
                batch.Rows.Slice(first * width, rows * width).CopyTo(builder.OutputBlock);
                int duplicates;
                if (Waiting == 0)
                {
                    // No rejection waits anywhere, so none can become ready among these rows: copied column by column.
                    duplicates = builder.AddOutputs(batch, first, rows);
                    CompleteRows(first, rows);
                }
                else
                {
                    duplicates = 0;
                    for (var r = first; r < first + rows; r++)
                    {
                        var flags = batch.Flags[r];
                        var duplicate = (flags & StepFlags.Duplicate) != 0;
                        if (duplicate) duplicates++;
                        builder.AddOutput(batch.Keys[r], batch.Seq[r], hasSeq: duplicate || (flags & StepFlags.HasSeq) != 0, duplicate);
                        CompleteRow(batch.Tags[r]);
                        if (ReadyCount != 0) TakeReady(builder);
                    }
                }

                Counters.CountOutputs(rows - duplicates, duplicates);
                Row = first + rows;
                if (Row == batch.Count) BatchDone();
            }

            Push(Results, builder.Build());
            ResumeSteps();
            if (AllEmitted) Complete(Results);
        }

        private void TakeReady(LstmResultBatch.Builder builder)
        {
            while (TryTakeReady(out var rejected)) builder.AddRejection(rejected);
        }
    }
}
