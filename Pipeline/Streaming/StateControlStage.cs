using Akka.Streams;
using Akka.Streams.Stage;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// The pipeline's outer ends, as one bidirectional stage wrapped around the inner flow (batcher → session
/// → layers → head): data from the ingress passes on unchanged and state requests from its materialized
/// <see cref="PipelineStateAccess"/> are put between the data items as control batches; on the way back
/// control batches are completed and dropped, data batches go to the egress. It knows every request in
/// flight, so a failing or stopping stream fails them instead of leaving them waiting. With a session store it is
/// where changes reach the store, in stream order: a <see cref="SessionTransfer"/> riding on any item (evicted
/// keys' states, deleted keys) and a checkpoint's export of a bucket's changed keys.
/// </summary>
internal sealed class StateControlStage : GraphStageWithMaterializedValue<BidiShape<StepBatch, StepBatch, StepBatch, StepBatch>, PipelineStateAccess>
{
    private readonly Models.LstmModel _model;
    private readonly ISessionStore? _store;
    private readonly Inlet<StepBatch> _ingress = new("StateControl.ingress");
    private readonly Outlet<StepBatch> _toPipeline = new("StateControl.toPipeline");
    private readonly Inlet<StepBatch> _fromPipeline = new("StateControl.fromPipeline");
    private readonly Outlet<StepBatch> _egress = new("StateControl.egress");

    public StateControlStage(Models.LstmModel model, ISessionStore? store = null)
    {
        _model = model;
        _store = store;
        Shape = new BidiShape<StepBatch, StepBatch, StepBatch, StepBatch>(_ingress, _toPipeline, _fromPipeline, _egress);
    }

    public override BidiShape<StepBatch, StepBatch, StepBatch, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes => Attributes.CreateName("StateControl");

    public override ILogicAndMaterializedValue<PipelineStateAccess> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var access = new PipelineStateAccess(_model, _store);
        return new LogicAndMaterializedValue<PipelineStateAccess>(new Logic(this, access), access);
    }

    private sealed class Logic : GraphStageLogic
    {
        private readonly StateControlStage _stage;
        private readonly PipelineStateAccess _access;
        private readonly Queue<StateRequest> _inFlight = new();
        private StepBatch? _held;
        private StepBatch? _result;
        private bool _ingressDone;
        private Exception? _failure;

        public Logic(StateControlStage stage, PipelineStateAccess access) : base(stage.Shape)
        {
            _stage = stage;
            _access = access;
            SetHandler(stage._ingress, onPush: OnIngressPush, onUpstreamFinish: OnIngressFinish, onUpstreamFailure: Fail);
            SetHandler(stage._toPipeline, onPull: OnPipelinePull, onDownstreamFinish: OnPipelineCancel);
            SetHandler(stage._fromPipeline, onPush: OnResultPush, onUpstreamFinish: OnResultsFinish, onUpstreamFailure: Fail);
            SetHandler(stage._egress, onPull: OnEgressPull);
        }

        public override void PreStart()
        {
            _access.Attach(GetAsyncCallback(OnRequest));
            // Keep one result pulled even without egress demand, so a state request completes as soon as the
            // data ahead of it is through, also when the egress is not reading at that moment.
            Pull(_stage._fromPipeline);
        }

        private void OnIngressPush()
        {
            var batch = Grab(_stage._ingress);
            if (IsAvailable(_stage._toPipeline)) Push(_stage._toPipeline, batch);
            else _held = batch;
        }

        private void OnIngressFinish()
        {
            _ingressDone = true;
            if (_held is null && IsAvailable(_stage._toPipeline)) OnPipelinePull();
        }

        private void OnPipelinePull()
        {
            if (_held is not null)
            {
                Push(_stage._toPipeline, _held);
                _held = null;
            }
            else if (TryPushRequest())
            {
            }
            else if (_ingressDone)
            {
                FinishInput();
            }
            else if (!HasBeenPulled(_stage._ingress))
            {
                Pull(_stage._ingress);
            }
        }

        // The inner flow cancelled (one of its stages failed or completed early). Stop the ingress but keep
        // running: the failure arrives at _fromPipeline and goes on to the egress as the stream's failure.
        private void OnPipelineCancel(Exception cause)
        {
            _access.Close(new InvalidOperationException("the pipeline stopped taking input", cause));
            if (!IsClosed(_stage._ingress)) Cancel(_stage._ingress, cause);
            _held?.Release();
            _held = null;
        }

        private void OnRequest()
        {
            if (_held is null && IsAvailable(_stage._toPipeline)) TryPushRequest();
        }

        private bool TryPushRequest()
        {
            if (IsClosed(_stage._toPipeline) || !_access.TryDequeue(out var request)) return false;
            _inFlight.Enqueue(request);
            Push(_stage._toPipeline, StepBatch.ForControl(request));
            return true;
        }

        private void FinishInput()
        {
            _access.Close(new InvalidOperationException("the pipeline's input has completed; state requests are no longer taken"));
            Complete(_stage._toPipeline);
        }

        private void OnResultPush()
        {
            var batch = Grab(_stage._fromPipeline);
            if (batch.Transfer is { } transfer)
            {
                batch.Transfer = null;
                if (transfer.HasChanges) _stage._store!.Accept(transfer.Changes());
                transfer.MarkAccepted();
            }

            if (batch.Control is { } request)
            {
                batch.Release();
                if (request.Kind != StateRequestKind.Transfer)
                {
                    if (!_inFlight.TryDequeue(out var expected) || !ReferenceEquals(expected, request))
                        throw new InvalidOperationException("a state request came out of the pipeline out of order");
                    if (request.ExportsToStore && request.Error is null)
                        _stage._store!.Accept(new SessionChanges(request.States, [], request.Bucket)
                            { LiveBucket = true, Changed = request.Changed });
                    request.Finish();
                }

                Pull(_stage._fromPipeline);
                return;
            }

            if (batch.Count == 0)
            {
                // Every row of the batch waits for its key's stored state; only its transfer had to come through.
                batch.Release();
                Pull(_stage._fromPipeline);
                return;
            }

            if (IsAvailable(_stage._egress))
            {
                Push(_stage._egress, batch);
                Pull(_stage._fromPipeline);
            }
            else
            {
                _result = batch;
            }
        }

        private void OnResultsFinish()
        {
            if (_result is null)
            {
                CompleteStage();
                return;
            }

            var last = _result;
            _result = null;
            Emit(_stage._egress, last, CompleteStage);
        }

        private void OnEgressPull()
        {
            if (_result is null) return;
            Push(_stage._egress, _result);
            _result = null;
            if (!IsClosed(_stage._fromPipeline)) Pull(_stage._fromPipeline);
        }

        private void Fail(Exception cause)
        {
            _failure = cause;
            FailStage(cause);
        }

        public override void PostStop()
        {
            _held?.Release();
            _result?.Release();
            _held = _result = null;
            var reason = _failure is null
                ? new InvalidOperationException("the pipeline stopped before the state request was processed")
                : new InvalidOperationException("the pipeline failed before the state request was processed", _failure);
            _access.Close(reason);
            while (_inFlight.TryDequeue(out var request)) request.Completion.TrySetException(reason);
        }
    }
}
