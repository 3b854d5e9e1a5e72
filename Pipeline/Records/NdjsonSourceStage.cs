using System.Buffers;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// An Akka.Streams source that reads NDJSON records from a <see cref="Stream"/> and emits them as
/// <see cref="StepBatch"/>es: each read of up to <c>chunkBytes</c> lands in one pooled buffer that is reused
/// for the whole stream and is decoded in place by an <see cref="NdjsonBatchDecoder"/> (lines may straddle
/// reads anywhere; only such a line's parts are copied). A read yields its complete lines as batches of up to
/// <c>maxRows</c> rows (a key may occur more than once in a batch; the batcher downstream regroups), so an
/// interactive writer's lines go on as soon as they are read. Rejected lines go to the error callback, called
/// on the stage's thread, and never stop the stream. The last line needs no newline.
/// <para>
/// The stream is read only when downstream asks for a batch and none is decoded yet (backpressure reaches the
/// reader). Reads block, so the stage runs on the materializer's blocking-I/O dispatcher, as its own island:
/// decoding then runs beside the stages downstream. The stream is left open (the caller owns it). Materializes
/// the <see cref="NdjsonParseSummary"/>, completed when the stage stops (failed when reading failed).
/// </para>
/// </summary>
internal sealed class NdjsonSourceStage : GraphStageWithMaterializedValue<SourceShape<StepBatch>, Task<NdjsonParseSummary>>
{
    /// <summary>The materializer's dispatcher for blocking I/O, which the stage runs on.</summary>
    public const string BlockingIoDispatcher = "akka.stream.materializer.blocking-io-dispatcher";

    private readonly Stream _input;
    private readonly int _inputSize;
    private readonly int _chunkBytes;
    private readonly int _maxRows;
    private readonly Action<RecordError> _onError;
    private readonly int _maxLineBytes;
    private readonly int _keyCacheSize;
    private readonly int _maxKeyBytes;

    public NdjsonSourceStage(Stream input, int inputSize, int chunkBytes, int maxRows, Action<RecordError> onError,
        int maxLineBytes = NdjsonBatchDecoder.DefaultMaxLineBytes, int keyCacheSize = NdjsonRecordParser.DefaultKeyCacheSize,
        int maxKeyBytes = NdjsonRecordParser.DefaultMaxKeyBytes)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keyCacheSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxKeyBytes);
        ArgumentNullException.ThrowIfNull(onError);
        if (!input.CanRead) throw new ArgumentException("the input stream cannot be read", nameof(input));
        _input = input;
        _inputSize = inputSize;
        _chunkBytes = chunkBytes;
        _maxRows = maxRows;
        _onError = onError;
        _maxLineBytes = maxLineBytes;
        _keyCacheSize = keyCacheSize;
        _maxKeyBytes = maxKeyBytes;
        Shape = new SourceShape<StepBatch>(Out);
    }

    public Outlet<StepBatch> Out { get; } = new("NdjsonSource.out");
    public override SourceShape<StepBatch> Shape { get; }

    protected override Attributes InitialAttributes { get; } =
        Attributes.CreateName("ndjson-source").And(ActorAttributes.CreateDispatcher(BlockingIoDispatcher));

    public override ILogicAndMaterializedValue<Task<NdjsonParseSummary>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var summary = new TaskCompletionSource<NdjsonParseSummary>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Task<NdjsonParseSummary>>(new Logic(this, summary), summary.Task);
    }

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly NdjsonSourceStage _stage;
        private readonly TaskCompletionSource<NdjsonParseSummary> _summary;
        private readonly Queue<StepBatch> _ready = new();
        private readonly NdjsonBatchDecoder _decoder;
        private byte[] _chunk;
        private bool _inputDone;

        public Logic(NdjsonSourceStage stage, TaskCompletionSource<NdjsonParseSummary> summary) : base(stage.Shape)
        {
            _stage = stage;
            _summary = summary;
            _decoder = new NdjsonBatchDecoder(new NdjsonRecordParser(stage._inputSize, stage._keyCacheSize, stage._maxKeyBytes), stage._maxRows,
                _ready.Enqueue, stage._onError, stage._maxLineBytes);
            _chunk = ArrayPool<byte>.Shared.Rent(stage._chunkBytes);
            SetHandler(stage.Out, this);
        }

        public override void OnPull()
        {
            try
            {
                // Read until a read gives at least one batch (a read may hold only blank, bad or partial lines).
                while (_ready.Count == 0 && !_inputDone) ReadChunk();
            }
            catch (Exception e)
            {
                _summary.TrySetException(e);
                throw;
            }

            if (_ready.TryDequeue(out var batch)) Push(_stage.Out, batch);
            if (_ready.Count == 0 && _inputDone) CompleteStage();
        }

        private void ReadChunk()
        {
            int read = _stage._input.Read(_chunk, 0, _stage._chunkBytes);
            if (read == 0)
            {
                _inputDone = true;
                _decoder.Complete();
                return;
            }

            _decoder.Decode(_chunk.AsSpan(0, read));
            _decoder.Flush();
        }

        public override void PostStop()
        {
            while (_ready.TryDequeue(out var batch)) batch.Release();
            _summary.TrySetResult(_decoder.Summary);
            _decoder.Dispose();
            if (_chunk.Length > 0) ArrayPool<byte>.Shared.Return(_chunk);
            _chunk = [];
        }
    }
}
