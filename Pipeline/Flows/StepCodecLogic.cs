using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// What the typed ends of <see cref="LstmFlow"/> share, whatever their elements (one step and one result, or batches
/// of them: <see cref="LstmStepCodec"/>, <see cref="LstmBatchCodec"/>): the run guard of the engine, the steps'
/// validation and their copy into the open fragment (<see cref="Take"/>), the fragment's hand-over to the pipeline
/// (whole, or once a round trip through the stage's mailbox brought no more steps), the rejections parked behind the
/// last step of their key still in flight, and the pipeline's output batches taken in one at a time. A subclass reads
/// its input elements (calling <see cref="Take"/> per step) and writes its results from <see cref="Batch"/> and
/// the ready rejections (<see cref="TryTakeReady"/>) (calling <see cref="CompleteRow"/> per output row).
/// </summary>
internal abstract class StepCodecLogic<TIn, TOut> : GraphStageLogic
{
    private readonly LstmEngine _engine;
    private readonly int _inputSize;
    private readonly int _fragmentRows;
    private readonly InFlightSteps _inFlight;

    // Rejections waiting for the output of the step (tag) before them of their key.
    private readonly Dictionary<long, List<LstmStepRejected>> _afterTag = new();

    // Rejections ready to be emitted, in order.
    private readonly Queue<LstmStepRejected> _ready = new();
    private long _position;
    private StepBatch? _fragment;
    private bool _running;
    private bool _flushPosted;
    private int _rowsAtFlushPost;
    private bool _flushIsFirst;
    private Action? _flush;

    /// <param name="fragmentRows">Rows of a fragment (at least the pipeline's <c>MaxBatchRows</c>).</param>
    protected StepCodecLogic(BidiShape<TIn, StepBatch, StepBatch, TOut> shape, LstmEngine engine, LstmStepCounters counters, int fragmentRows)
        : base(shape)
    {
        _engine = engine;
        _inputSize = engine.Model.InputSize;
        _fragmentRows = fragmentRows;
        _inFlight = new InFlightSteps(_fragmentRows);
        Counters = counters;
        Steps = shape.Inlet1;
        ToPipeline = shape.Outlet1;
        FromPipeline = shape.Inlet2;
        Results = shape.Outlet2;
        SetHandler(Steps, onPush: OnInput, onUpstreamFinish: OnStepsFinished, onUpstreamFailure: FailStage);
        SetHandler(ToPipeline, onPull: OnPipelinePull);
        SetHandler(FromPipeline, onPush: OnBatch, onUpstreamFinish: OnPipelineFinished, onUpstreamFailure: FailStage);
        SetHandler(Results, onPull: Emit);
    }

    protected Inlet<TIn> Steps { get; }

    protected Outlet<StepBatch> ToPipeline { get; }

    protected Inlet<StepBatch> FromPipeline { get; }

    protected Outlet<TOut> Results { get; }

    protected LstmStepCounters Counters { get; }

    /// <summary>The pipeline's output batch being emitted (null: none in hand), read from row <see cref="Row"/> on.</summary>
    protected StepBatch? Batch { get; private set; }

    /// <summary>The next row of <see cref="Batch"/> to emit.</summary>
    protected int Row { get; set; }

    /// <summary>Rejections ready to be emitted, in order (take them with <see cref="TryTakeReady"/>).</summary>
    protected int ReadyCount => _ready.Count;

    /// <summary>Rejections taken in and not yet emitted (ready or parked).</summary>
    protected int Waiting { get; private set; }

    /// <summary>The open fragment is full or too many rejections wait: no step can be taken now.</summary>
    protected bool CannotTake => _fragment is { IsFull: true } || Waiting >= LstmStepCodec.MaxWaitingRejections;

    /// <summary>Steps of an input element already grabbed are still to be taken (the element did not fit).</summary>
    protected virtual bool InputPending => false;

    /// <summary>The steps' inlet is closed and every step it gave has been taken.</summary>
    private bool StepsDone => IsClosed(Steps) && !InputPending;

    /// <summary>Grabs the pushed input element and takes its steps (<see cref="Take"/>).</summary>
    protected abstract void OnInput();

    /// <summary>Emits what is ready when there is demand (completing the results when everything is out).</summary>
    protected abstract void Emit();

    /// <summary>Room for steps again (a fragment left, rejections were emitted): takes pending steps, then pulls.</summary>
    protected virtual void ResumeSteps() => PullSteps();

    public override void PreStart()
    {
        if (!_engine.TryStartRun())
        {
            FailStage(new InvalidOperationException(
                "this LstmEngine already runs a materialized flow: an engine's flows run one at a time (create another engine for a second concurrent stream)"));
            return;
        }

        _running = true;
        _flush = GetAsyncCallback(Flush);
        Pull(FromPipeline);
        PullSteps();
    }

    public override void PostStop()
    {
        _fragment?.Release();
        Batch?.Release();
        _fragment = Batch = null;
        if (_running) _engine.EndRun();
        _running = false;
    }

    /// <summary>
    /// Takes one step: an invalid one becomes an <see cref="LstmStepRejected"/> (emitted in its key's order), a valid
    /// one is copied into the open fragment (which goes to the pipeline when it is full or when the pipeline asks).
    /// Call only while not <see cref="CannotTake"/>. <paramref name="offer"/>: hand the fragment over now if the
    /// pipeline waits (false when more steps of the same element follow; then call <see cref="OfferFragmentIfPulled"/>).
    /// </summary>
    protected void Take(LstmStep? step, bool offer = true)
    {
        if (TakeValid(new ReadOnlySpan<LstmStep?>(in step)) == 0)
        {
            var position = ++_position;
            Counters.CountReceived();
            TakeInvalid(step, position);
            return;
        }

        if (offer) OfferFragmentIfPulled();
    }

    /// <summary>
    /// Takes the valid steps at the start of <paramref name="steps"/> into the open fragment, as many as it has room for,
    /// and returns how many it took: stops before the first step that fails the checks (take that one with
    /// <see cref="Take"/>, which rejects it) and when the fragment is full: the checks inline for the common case (a key,
    /// the model's input width, every value finite; <see cref="TakeInvalid"/> names what was wrong). Call only while not <see cref="CannotTake"/>; does not offer the fragment.
    /// </summary>
    protected int TakeValid(ReadOnlySpan<LstmStep?> steps)
    {
        var fragment = _fragment;
        var taken = 0;
        var inputSize = _inputSize;
        foreach (var step in steps)
        {
            if (step?.Key is not { Length: > 0 } key) break;
            var x = step.X.Span;
            if (x.Length != inputSize || !TensorPrimitives.IsFiniteAll(x)) break;
            if (fragment is null)
            {
                fragment = _fragment = StepBatch.Rent(_fragmentRows, inputSize);
                _inFlight.StartFragment();
            }
            else if (fragment.IsFull)
            {
                break;
            }

            var flags = (step.Reset ? StepFlags.Reset : StepFlags.None) | (step.End ? StepFlags.End : StepFlags.None)
                        | (step.Seq.HasValue ? StepFlags.HasSeq : StepFlags.None);
            var row = fragment.Add(key, step.Seq.GetValueOrDefault(), flags, _inFlight.Add(key));
            x.CopyTo(fragment.Row(row));
            taken++;
        }

        _position += taken;
        Counters.CountReceived(taken);
        return taken;
    }

    /// <summary>A step that failed the inline checks: its rejection, naming the field at fault.</summary>
    private void TakeInvalid(LstmStep? step, long position)
    {
        if (step is null)
        {
            Reject(new LstmStepRejected(position, null, null, Records.RecordFields.Key, "missing (the step itself is null)"));
            return;
        }

        var fault = LstmStepCodec.Check(step, _inputSize)
                    ?? throw new InvalidOperationException($"step {position} failed the inline checks but passed {nameof(LstmStepCodec.Check)}");
        Reject(new LstmStepRejected(position, step.Key, step.Seq, fault.Field, fault.Reason));
    }

    /// <summary>Hands the open fragment to the pipeline if it asked for one (see <see cref="OfferFragment"/>).</summary>
    protected void OfferFragmentIfPulled()
    {
        if (IsAvailable(ToPipeline)) OfferFragment();
        else if (StepsDone && _fragment is null && !IsClosed(ToPipeline)) Complete(ToPipeline);
    }

    private void Reject(LstmStepRejected rejected)
    {
        Counters.CountRejected();
        Waiting++;
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

    /// <summary>Pulls the next input element unless it is pulled, closed, steps are pending or no step can be taken.</summary>
    protected void PullSteps()
    {
        if (HasBeenPulled(Steps) || IsClosed(Steps) || InputPending || CannotTake) return;
        Pull(Steps);
    }

    private void PushFragment()
    {
        Push(ToPipeline, _fragment!);
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
        if (_fragment.IsFull || StepsDone)
        {
            PushFragment();
            ResumeSteps();
        }
        else if (!_flushPosted)
        {
            PostFlush(first: true);
        }
    }

    private void Flush()
    {
        _flushPosted = false;
        if (_fragment is null || !IsAvailable(ToPipeline)) return;
        if (!StepsDone && (_flushIsFirst || _fragment.Count > _rowsAtFlushPost))
        {
            // Steps joined during the round trip: the burst goes on; the fragment goes when full or when a whole
            // round trip brings none.
            PostFlush(first: false);
            return;
        }

        PushFragment();
        ResumeSteps();
        if (StepsDone && _fragment is null && !IsClosed(ToPipeline)) Complete(ToPipeline);
    }

    private void OnPipelinePull()
    {
        OfferFragment();
        if (StepsDone && _fragment is null && !IsClosed(ToPipeline)) Complete(ToPipeline);
    }

    private void OnStepsFinished()
    {
        if (InputPending) return; // the pending steps are taken as room frees; the last of them completes
        if (_fragment is null) Complete(ToPipeline);
        else if (IsAvailable(ToPipeline)) OfferFragment();
        // Otherwise the last fragment goes when the pipeline asks for it (OnPipelinePull completes then).
    }

    private void OnBatch()
    {
        var batch = Grab(FromPipeline);
        if (batch.Count == 0)
        {
            batch.Release();
            Pull(FromPipeline);
            return;
        }

        Batch = batch;
        Row = 0;
        Emit();
    }

    private void OnPipelineFinished()
    {
        // Every step's output is out: rejections still parked (none should be) follow in position order.
        foreach (var rejected in _afterTag.Values.SelectMany(l => l).OrderBy(r => r.Position)) _ready.Enqueue(rejected);
        _afterTag.Clear();
        Emit();
    }

    /// <summary>Takes the next ready rejection (it then counts as emitted).</summary>
    protected bool TryTakeReady(out LstmStepRejected rejected)
    {
        if (!_ready.TryDequeue(out rejected!)) return false;
        Waiting--;
        return true;
    }

    /// <summary>The row tagged <paramref name="tag"/> is being emitted: rejections that waited for it become ready.</summary>
    protected void CompleteRow(long tag)
    {
        _inFlight.Complete(tag);
        if (_afterTag.Count != 0 && _afterTag.Remove(tag, out var waiting))
        {
            foreach (var r in waiting) _ready.Enqueue(r);
        }
    }

    /// <summary>
    /// Rows <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1 of <see cref="Batch"/> are being
    /// emitted with no rejection waiting anywhere (<see cref="Waiting"/> is 0): their steps leave the flight, nothing
    /// becomes ready.
    /// </summary>
    protected void CompleteRows(int first, int count)
    {
        _inFlight.Complete(Batch!.Tags.AsSpan(first, count));
    }

    /// <summary><see cref="Batch"/> is emitted to its last row: releases it and asks the pipeline for the next.</summary>
    protected void BatchDone()
    {
        Batch!.Release();
        Batch = null;
        if (!IsClosed(FromPipeline)) Pull(FromPipeline);
    }

    /// <summary>No output batch in hand, no rejection waiting and the pipeline has finished: nothing more will come.</summary>
    protected bool AllEmitted => Batch is null && _ready.Count == 0 && IsClosed(FromPipeline);
}
