using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// Passes the run's input batches on unchanged and, when the input has ended, runs <c>save</c> before it completes its
/// own output, so that the pipeline behind it still takes state requests while the save runs (a pipeline whose input
/// completed takes none). A failed save fails the stream.
/// </summary>
internal sealed class SaveAtEndStage(Func<Task> save) : GraphStage<FlowShape<StepBatch, StepBatch>>
{
    private readonly Inlet<StepBatch> _in = new("SaveAtEnd.in");
    private readonly Outlet<StepBatch> _out = new("SaveAtEnd.out");

    public override FlowShape<StepBatch, StepBatch> Shape => new(_in, _out);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly SaveAtEndStage _stage;

        public Logic(SaveAtEndStage stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, this);
            SetHandler(stage._out, this);
        }

        public override void OnPush() => Push(_stage._out, Grab(_stage._in));

        public override void OnPull()
        {
            if (!IsClosed(_stage._in)) Pull(_stage._in);
        }

        public override void OnUpstreamFinish()
        {
            var saved = GetAsyncCallback<Task>(task =>
            {
                if (task.IsCompletedSuccessfully) CompleteStage();
                else FailStage(task.Exception?.GetBaseException() ?? new OperationCanceledException("the save at the end of the run was cancelled"));
            });
            _stage.Start().ContinueWith(saved, TaskScheduler.Default);
        }
    }

    private Task Start()
    {
        try
        {
            return save();
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }
}
