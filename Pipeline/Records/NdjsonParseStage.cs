using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// An Akka.Streams stage that parses NDJSON records from byte chunks (lines may be split anywhere) into
/// <see cref="StepBatch"/>es: each incoming chunk yields its complete lines as batches of up to
/// <c>maxRows</c> rows (a key may occur more than once in a batch; the batcher downstream regroups). Rejected
/// lines go to the error callback, called on the stage's thread, and never stop the stream. The last line
/// needs no newline. Materializes the <see cref="NdjsonParseSummary"/>, completed when the stage stops
/// (failed when upstream failed).
/// </summary>
public sealed class NdjsonParseStage : GraphStageWithMaterializedValue<FlowShape<ByteString, StepBatch>, Task<NdjsonParseSummary>>
{
    private readonly int _inputSize;
    private readonly int _maxRows;
    private readonly Action<RecordError> _onError;
    private readonly int _maxLineBytes;
    private readonly int _keyCacheSize;

    public NdjsonParseStage(int inputSize, int maxRows, Action<RecordError> onError,
        int maxLineBytes = NdjsonBatchDecoder.DefaultMaxLineBytes, int keyCacheSize = NdjsonRecordParser.DefaultKeyCacheSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keyCacheSize);
        ArgumentNullException.ThrowIfNull(onError);
        _inputSize = inputSize;
        _maxRows = maxRows;
        _onError = onError;
        _maxLineBytes = maxLineBytes;
        _keyCacheSize = keyCacheSize;
        Shape = new FlowShape<ByteString, StepBatch>(In, Out);
    }

    public Inlet<ByteString> In { get; } = new("NdjsonParse.in");
    public Outlet<StepBatch> Out { get; } = new("NdjsonParse.out");
    public override FlowShape<ByteString, StepBatch> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("ndjson-parse");

    public override ILogicAndMaterializedValue<Task<NdjsonParseSummary>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var summary = new TaskCompletionSource<NdjsonParseSummary>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Task<NdjsonParseSummary>>(new Logic(this, summary), summary.Task);
    }

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly NdjsonParseStage _stage;
        private readonly TaskCompletionSource<NdjsonParseSummary> _summary;
        private readonly Queue<StepBatch> _ready = new();
        private readonly NdjsonBatchDecoder _decoder;
        private bool _upstreamDone;

        public Logic(NdjsonParseStage stage, TaskCompletionSource<NdjsonParseSummary> summary) : base(stage.Shape)
        {
            _stage = stage;
            _summary = summary;
            _decoder = new NdjsonBatchDecoder(new NdjsonRecordParser(stage._inputSize, stage._keyCacheSize), stage._maxRows,
                _ready.Enqueue, stage._onError, stage._maxLineBytes);
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        public override void OnPush()
        {
            var chunk = Grab(_stage.In);
            try
            {
                // A compact ByteString (what stream readers emit) is read in place; others are copied once.
                _decoder.Decode(chunk.ToReadOnlySpan());
                _decoder.Flush();
            }
            catch (Exception e)
            {
                _summary.TrySetException(e);
                throw;
            }

            // Upstream is pulled only when downstream waits and nothing is queued, so Out is available here.
            if (_ready.TryDequeue(out var batch)) Push(_stage.Out, batch);
            else Pull(_stage.In);
        }

        public override void OnUpstreamFinish()
        {
            _upstreamDone = true;
            try
            {
                _decoder.Complete();
            }
            catch (Exception e)
            {
                _summary.TrySetException(e);
                throw;
            }
            if (_ready.Count == 0)
            {
                CompleteStage();
                return;
            }

            if (IsAvailable(_stage.Out)) PushNextOrComplete();
        }

        public override void OnUpstreamFailure(Exception e)
        {
            _summary.TrySetException(e);
            FailStage(e);
        }

        public override void OnPull()
        {
            if (_ready.Count > 0) PushNextOrComplete();
            else if (_upstreamDone) CompleteStage();
            else if (!HasBeenPulled(_stage.In)) Pull(_stage.In);
        }

        public override void PostStop()
        {
            while (_ready.TryDequeue(out var batch)) batch.Release();
            _summary.TrySetResult(_decoder.Summary);
            _decoder.Dispose();
        }

        private void PushNextOrComplete()
        {
            Push(_stage.Out, _ready.Dequeue());
            if (_ready.Count == 0 && _upstreamDone) CompleteStage();
        }
    }
}
