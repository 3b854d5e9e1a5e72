using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Service;

/// <summary>
/// The source of the hub's graph: emits the <see cref="HubInbox"/>'s batches in arrival order as the pipeline pulls,
/// and completes once the inbox is completed and empty (also without demand). When the inbox is empty the stage parks; the writer of the
/// next batch wakes it through an async callback, directly from the writer's thread (Akka's channel source would
/// first resume a continuation on the thread pool, and that one posts the callback).
/// </summary>
internal sealed class HubInboxSource : GraphStage<SourceShape<StepBatch>>
{
    private readonly HubInbox _inbox;
    private readonly Outlet<StepBatch> _out = new("HubInbox.out");

    public HubInboxSource(HubInbox inbox)
    {
        _inbox = inbox ?? throw new ArgumentNullException(nameof(inbox));
        Shape = new SourceShape<StepBatch>(_out);
    }

    public override SourceShape<StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("HubInbox");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly HubInboxSource _stage;
        private Action? _wake;
        private bool _parked;

        public Logic(HubInboxSource stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._out, onPull: Deliver);
        }

        public override void PreStart()
        {
            _wake = GetAsyncCallback(OnWake);
            // The end of input is noticed without demand too (the last batch may have been taken already).
            var completed = GetAsyncCallback(OnInboxCompleted);
            _stage._inbox.Completion.ContinueWith(_ => completed(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private void OnInboxCompleted()
        {
            if (_stage._inbox.IsDrained) CompleteStage();
        }

        public override void PostStop()
        {
            if (_wake is not null) _stage._inbox.Unpark(_wake);
        }

        private void OnWake()
        {
            _parked = false;
            if (IsAvailable(_stage._out)) Deliver();
        }

        private void Deliver()
        {
            var inbox = _stage._inbox;
            while (true)
            {
                if (inbox.TryTake(out var batch))
                {
                    Push(_stage._out, batch);
                    if (inbox.IsDrained) CompleteStage();
                    return;
                }

                if (inbox.IsDrained)
                {
                    CompleteStage();
                    return;
                }

                // Parked already: the wake-up is on its way.
                if (_parked) return;
                if (inbox.Park(_wake!))
                {
                    _parked = true;
                    return;
                }
            }
        }
    }
}
