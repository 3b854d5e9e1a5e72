using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
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
    private readonly int _inputSize;
    private readonly int _fragmentRows;

    public LstmStepCodec(LstmEngine engine)
    {
        _engine = engine;
        _inputSize = engine.Model.InputSize;
        _fragmentRows = FragmentRowsFor(engine.PipelineOptions.MaxBatchRows);
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

    private sealed class Logic : GraphStageLogic
    {
        private readonly LstmStepCodec _stage;
        private readonly LstmStepCounters _counters;
        private readonly InFlightSteps _inFlight;

        // Rejections waiting for the output of the step (tag) before them of their key.
        private readonly Dictionary<long, List<LstmStepRejected>> _afterTag = new();

        // Rejections ready to be emitted, in order.
        private readonly Queue<LstmStepRejected> _ready = new();
        private int _waiting;
        private long _position;
        private StepBatch? _fragment;
        private StepBatch? _batch;
        private int _row;
        private bool _running;
        private bool _flushPosted;
        private int _rowsAtFlushPost;
        private bool _flushIsFirst;
        private Action? _flush;

        public Logic(LstmStepCodec stage, LstmStepCounters counters) : base(stage.Shape)
        {
            _stage = stage;
            _counters = counters;
            _inFlight = new InFlightSteps(stage._fragmentRows);
            SetHandler(stage._steps, onPush: OnStep, onUpstreamFinish: OnStepsFinished, onUpstreamFailure: FailStage);
            SetHandler(stage._toPipeline, onPull: OnPipelinePull);
            SetHandler(stage._fromPipeline, onPush: OnBatch, onUpstreamFinish: OnPipelineFinished, onUpstreamFailure: FailStage);
            SetHandler(stage._results, onPull: Emit);
        }

        public override void PreStart()
        {
            if (!_stage._engine.TryStartRun())
            {
                FailStage(new InvalidOperationException(
                    "this LstmEngine already runs a materialized flow: an engine's flows run one at a time (create another engine for a second concurrent stream)"));
                return;
            }

            _running = true;
            _flush = GetAsyncCallback(Flush);
            Pull(_stage._fromPipeline);
            PullSteps();
        }

        public override void PostStop()
        {
            _fragment?.Release();
            _batch?.Release();
            _fragment = _batch = null;
            if (_running) _stage._engine.EndRun();
            _running = false;
        }

        private void OnStep()
        {
            var step = Grab(_stage._steps);
            var position = ++_position;
            _counters.CountReceived();
            if (Check(step, _stage._inputSize) is { } fault)
            {
                Reject(new LstmStepRejected(position, step.Key, step.Seq, fault.Field, fault.Reason));
            }
            else
            {
                if (_fragment is null)
                {
                    _fragment = StepBatch.Rent(_stage._fragmentRows, _stage._inputSize);
                    _inFlight.StartFragment();
                }

                var fragment = _fragment;
                var flags = (step.Reset ? StepFlags.Reset : StepFlags.None) | (step.End ? StepFlags.End : StepFlags.None)
                            | (step.Seq.HasValue ? StepFlags.HasSeq : StepFlags.None);
                var row = fragment.Add(step.Key, step.Seq.GetValueOrDefault(), flags, _inFlight.Add(step.Key));
                step.X.Span.CopyTo(fragment.Row(row));
                if (IsAvailable(_stage._toPipeline)) OfferFragment();
            }

            PullSteps();
        }

        private void Reject(LstmStepRejected rejected)
        {
            _counters.CountRejected();
            _waiting++;
            if (rejected.Key is { } key && _inFlight.LastOf(key) is { } before)
            {
                ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_afterTag, before, out _);
                (list ??= []).Add(rejected);
            }
            else
            {
                _ready.Enqueue(rejected);
                Emit();
            }
        }

        private void PullSteps()
        {
            var steps = _stage._steps;
            if (HasBeenPulled(steps) || IsClosed(steps)) return;
            if (_fragment is { IsFull: true } || _waiting >= MaxWaitingRejections) return;
            Pull(steps);
        }

        private void PushFragment()
        {
            Push(_stage._toPipeline, _fragment!);
            _fragment = null;
            _rowsAtFlushPost = 0;
        }

        /// <summary>
        /// Asks this stage's actor to call <see cref="Flush"/> once the events already queued have run; <paramref name="first"/>:
        /// the first of a chain (posted amid a batch of events, so its round trip may have seen only that batch's end).
        /// </summary>
        private void PostFlush(bool first)
        {
            _flushPosted = true;
            _flushIsFirst = first;
            _rowsAtFlushPost = _fragment?.Count ?? 0;
            _flush!();
        }

        /// <summary>
        /// The pipeline wants a fragment: a full one (or the last) goes at once; a partial one goes once the steps
        /// arriving in this burst have joined it: a message to this stage's actor, handled after the events already
        /// queued (Akka runs it in the same turn, after at most one batch of the island's events), posted again once and
        /// then as long as steps joined meanwhile. So an upstream in this island that always has the next step (an iterator, a
        /// parser) fills the fragment, as the pooled path's caller fills its batches, and the model gets micro-batches
        /// as large as there; a trickle, or an upstream behind an asynchronous boundary once its buffered elements are
        /// in, adds none during a round trip, and the fragment goes without waiting.
        /// </summary>
        private void OfferFragment()
        {
            if (_fragment is null) return;
            if (_fragment.IsFull || IsClosed(_stage._steps))
            {
                PushFragment();
                PullSteps();
            }
            else if (!_flushPosted)
            {
                PostFlush(first: true);
            }
        }

        private void Flush()
        {
            _flushPosted = false;
            if (_fragment is null || !IsAvailable(_stage._toPipeline)) return;
            if (!IsClosed(_stage._steps) && (_flushIsFirst || _fragment.Count > _rowsAtFlushPost))
            {
                // Steps joined during the round trip: the burst goes on; the fragment goes when full or when a whole
                // round trip brings none.
                PostFlush(first: false);
                return;
            }

            PushFragment();
            PullSteps();
            if (IsClosed(_stage._steps)) Complete(_stage._toPipeline);
        }

        private void OnPipelinePull()
        {
            OfferFragment();
            if (IsClosed(_stage._steps) && _fragment is null) Complete(_stage._toPipeline);
        }

        private void OnStepsFinished()
        {
            if (_fragment is null) Complete(_stage._toPipeline);
            else if (IsAvailable(_stage._toPipeline)) OfferFragment();
            // Otherwise the last fragment goes when the pipeline asks for it (OnPipelinePull completes then).
        }

        private void OnBatch()
        {
            var batch = Grab(_stage._fromPipeline);
            if (batch.Count == 0)
            {
                batch.Release();
                Pull(_stage._fromPipeline);
                return;
            }

            _batch = batch;
            _row = 0;
            Emit();
        }

        private void OnPipelineFinished()
        {
            // Every step's output is out: rejections still parked (none should be) follow in position order.
            foreach (var rejected in _afterTag.Values.SelectMany(l => l).OrderBy(r => r.Position)) _ready.Enqueue(rejected);
            _afterTag.Clear();
            Emit();
        }

        /// <summary>Emits the next result when there is demand: waiting rejections first, then the next output row.</summary>
        private void Emit()
        {
            var results = _stage._results;
            if (!IsAvailable(results)) return;
            if (_ready.TryDequeue(out var rejected))
            {
                _waiting--;
                Push(results, rejected);
                PullSteps();
            }
            else if (_batch is { } batch)
            {
                Push(results, Output(batch, _row));
                if (++_row == batch.Count)
                {
                    _batch = null;
                    batch.Release();
                    if (!IsClosed(_stage._fromPipeline)) Pull(_stage._fromPipeline);
                }
            }
            else if (IsClosed(_stage._fromPipeline))
            {
                Complete(results);
                return;
            }
            else
            {
                return;
            }

            if (_batch is null && _ready.Count == 0 && IsClosed(_stage._fromPipeline)) Complete(results);
        }

        /// <summary>Row <paramref name="row"/> as an output (or a duplicate); rejections that waited for it become ready.</summary>
        private LstmResult Output(StepBatch batch, int row)
        {
            var tag = batch.Tags[row];
            var key = batch.Keys[row];
            var flags = batch.Flags[row];
            var seq = (flags & StepFlags.HasSeq) != 0 ? batch.Seq[row] : (long?)null;
            LstmResult output;
            if ((flags & StepFlags.Duplicate) != 0)
            {
                output = new LstmDuplicate(key, batch.Seq[row]);
                _counters.CountDuplicate();
            }
            else
            {
                output = new LstmOutput(key, seq, batch.Row(row).ToArray());
                _counters.CountOutput();
            }

            _inFlight.Complete(tag);
            if (_afterTag.Count != 0 && _afterTag.Remove(tag, out var waiting))
            {
                foreach (var r in waiting) _ready.Enqueue(r);
            }

            return output;
        }
    }
}
