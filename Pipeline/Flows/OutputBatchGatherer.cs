using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The model island's end of <see cref="LstmFlow"/>: copies the pipeline's output micro-batches into one larger
/// batch while the caller's island is busy, so that the hop to it (a message between actors) carries all the rows
/// that finished meanwhile, not one micro-batch each, and the micro-batches go back to the pool on the thread that
/// rents them (a pooled array returned on another thread is often dropped and allocated anew). A gathered batch of at
/// least <see cref="MinHandOverRows"/> rows goes as soon as the caller's island asks; a smaller one goes once the
/// micro-batches already under way in this island have joined it (one round trip through this island's own mailbox,
/// no timer, as the micro-batcher waits for its input): with a key or a few, micro-batches of a row or two would
/// otherwise cross to a caller that keeps up one hand-over each. When the next micro-batch does not fit, the gathered
/// batch goes at the next demand and the stage stops pulling meanwhile.
/// </summary>
internal sealed class OutputBatchGatherer : GraphStage<FlowShape<StepBatch, StepBatch>>
{
    /// <summary>Rows from which a gathered batch goes at once when the caller asks (below, after the burst under way).</summary>
    internal const int MinHandOverRows = 64;

    private readonly Inlet<StepBatch> _in = new("LstmFlow.outputs");
    private readonly Outlet<StepBatch> _out = new("LstmFlow.gatheredOutputs");
    private readonly int _rows;
    private readonly int _width;
    private readonly bool _adopt;

    /// <param name="rows">Rows of a gathered batch (at least the pipeline's <c>MaxBatchRows</c>).</param>
    /// <param name="width">Floats per output row (the model's output size).</param>
    /// <param name="adopt">The stage runs in the island that rents the micro-batches and the one that reads them (no
    /// asynchronous boundary after it): a micro-batch of <see cref="MinHandOverRows"/> rows or more that comes while
    /// nothing is gathered becomes the gathered batch itself, not copied.</param>
    public OutputBatchGatherer(int rows, int width, bool adopt = false)
    {
        _rows = rows;
        _width = width;
        _adopt = adopt;
        Shape = new FlowShape<StepBatch, StepBatch>(_in, _out);
    }

    public override FlowShape<StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("LstmFlow.gather");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly OutputBatchGatherer _stage;
        private StepBatch? _gathered;
        private StepBatch? _waiting;
        private bool _flushPosted;
        private Action? _flush;

        public Logic(OutputBatchGatherer stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, onPush: OnBatch, onUpstreamFinish: () => TryPush(now: true));
            SetHandler(stage._out, onPull: () => TryPush(now: false));
        }

        public override void PreStart()
        {
            _flush = GetAsyncCallback(Flush);
            Pull(_stage._in);
        }

        public override void PostStop()
        {
            _gathered?.Release();
            _waiting?.Release();
            _gathered = _waiting = null;
        }

        private void OnBatch()
        {
            var batch = Grab(_stage._in);
            if (_gathered is { } gathered && gathered.Count + batch.Count > gathered.Capacity)
            {
                _waiting = batch;
                TryPush(now: true);
                return;
            }

            Gather(batch);
            Pull(_stage._in);
            TryPush(now: false);
        }

        private void Gather(StepBatch batch)
        {
            if (_gathered is null && _stage._adopt && batch.Count >= MinHandOverRows)
            {
                _gathered = batch;
                return;
            }

            if (batch.Count > 0)
            {
                var gathered = _gathered ??= StepBatch.Rent(Math.Max(_stage._rows, batch.Count), _stage._width);
                gathered.AddRows(batch);
            }

            batch.Release();
        }

        /// <summary>The burst of micro-batches under way when a small batch was held back has joined it.</summary>
        private void Flush()
        {
            _flushPosted = false;
            TryPush(now: true);
        }

        /// <summary>
        /// Hands the gathered batch over when the caller's island asks for one: at once when <paramref name="now"/>, the
        /// batch holds <see cref="MinHandOverRows"/> rows or more, or nothing more will come; otherwise after the burst.
        /// </summary>
        private void TryPush(bool now)
        {
            var done = IsClosed(_stage._in);
            if (_gathered is null)
            {
                if (done) CompleteStage();
                return;
            }

            if (!IsAvailable(_stage._out)) return;
            if (!now && !done && _waiting is null && _gathered.Count < MinHandOverRows)
            {
                if (!_flushPosted)
                {
                    _flushPosted = true;
                    _flush!();
                }

                return;
            }

            Push(_stage._out, _gathered);
            _gathered = null;
            if (_waiting is { } waiting)
            {
                _waiting = null;
                Gather(waiting);
                if (!done) Pull(_stage._in);
            }
            else if (done)
            {
                CompleteStage();
            }
        }
    }
}
