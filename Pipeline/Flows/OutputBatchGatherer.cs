using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Flows;

/// <summary>
/// The model island's end of <see cref="LstmFlow"/>: gathers the pipeline's output micro-batches into lists, so
/// the hop to the caller's island (a message between actors) carries many micro-batches, not one each. A list
/// goes when its island has run the events already queued (a burst of micro-batches from one fragment: a message to
/// this stage's actor, handled after them) and the caller's island asks, or at once when it holds
/// <see cref="_maxRows"/> rows (then the stage stops pulling until it is taken).
/// </summary>
internal sealed class OutputBatchGatherer : GraphStage<FlowShape<StepBatch, List<StepBatch>>>
{
    private readonly Inlet<StepBatch> _in = new("LstmFlow.outputs");
    private readonly Outlet<List<StepBatch>> _out = new("LstmFlow.gatheredOutputs");
    private readonly int _maxRows;

    /// <param name="maxRows">Rows a list holds before the stage stops pulling micro-batches.</param>
    public OutputBatchGatherer(int maxRows)
    {
        _maxRows = maxRows;
        Shape = new FlowShape<StepBatch, List<StepBatch>>(_in, _out);
    }

    public override FlowShape<StepBatch, List<StepBatch>> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("LstmFlow.gather");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly OutputBatchGatherer _stage;
        private List<StepBatch>? _list;
        private int _rows;
        private bool _burstEnded;
        private bool _endPosted;
        private Action? _endBurst;

        public Logic(OutputBatchGatherer stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, onPush: OnBatch, onUpstreamFinish: OnFinish);
            SetHandler(stage._out, onPull: TryPush);
        }

        public override void PreStart()
        {
            _endBurst = GetAsyncCallback(EndBurst);
            Pull(_stage._in);
        }

        public override void PostStop()
        {
            if (_list is { } list)
            {
                foreach (var batch in list) batch.Release();
            }

            _list = null;
        }

        private void OnBatch()
        {
            var batch = Grab(_stage._in);
            (_list ??= []).Add(batch);
            _rows += batch.Count;
            _burstEnded = false;
            if (!_endPosted)
            {
                _endPosted = true;
                _endBurst!();
            }

            if (_rows >= _stage._maxRows) TryPush();
            if (_rows < _stage._maxRows && !HasBeenPulled(_stage._in)) Pull(_stage._in);
        }

        private void EndBurst()
        {
            _endPosted = false;
            _burstEnded = true;
            TryPush();
        }

        private void TryPush()
        {
            if (_list is null || !IsAvailable(_stage._out)) return;
            if (!_burstEnded && _rows < _stage._maxRows && !IsClosed(_stage._in)) return;
            Push(_stage._out, _list);
            _list = null;
            _rows = 0;
            if (IsClosed(_stage._in)) CompleteStage();
            else if (!HasBeenPulled(_stage._in)) Pull(_stage._in);
        }

        private void OnFinish()
        {
            if (_list is null) CompleteStage();
            else TryPush();
        }
    }
}
