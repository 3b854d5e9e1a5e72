using System.Buffers;
using Akka.Streams;
using Akka.Streams.Stage;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// An Akka.Streams sink that writes output batches to a <see cref="Stream"/> as NDJSON: each batch is
/// formatted by <see cref="NdjsonOutputFormatter"/> into one pooled buffer, reused for the whole stream, and
/// written with a single write (then flushed, when <c>flushEachBatch</c>, so an interactive reader sees the
/// outputs at once); the batch is released once written. The next batch is asked for only after the write
/// returned, so a slow writer backpressures the whole stream. Writes block, so the stage runs on the
/// materializer's blocking-I/O dispatcher, as its own island: formatting then runs beside the stages upstream.
/// <para>
/// The stream is flushed at the end and left open (the caller owns it). Materializes the number of records
/// written, completed when upstream completed and the last write and flush returned, failed when upstream
/// failed or a write threw.
/// </para>
/// </summary>
internal sealed class NdjsonSinkStage : GraphStageWithMaterializedValue<SinkShape<StepBatch>, Task<long>>
{
    /// <summary>The first size of the text buffer; it grows to the largest batch's text and stays there.</summary>
    private const int InitialBufferBytes = 64 * 1024;

    private readonly Stream _output;
    private readonly bool _flushEachBatch;

    public NdjsonSinkStage(Stream output, bool flushEachBatch)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!output.CanWrite) throw new ArgumentException("the output stream cannot be written", nameof(output));
        _output = output;
        _flushEachBatch = flushEachBatch;
        Shape = new SinkShape<StepBatch>(In);
    }

    public Inlet<StepBatch> In { get; } = new("NdjsonSink.in");
    public override SinkShape<StepBatch> Shape { get; }

    protected override Attributes InitialAttributes { get; } =
        Attributes.CreateName("ndjson-sink").And(ActorAttributes.CreateDispatcher(NdjsonSourceStage.BlockingIoDispatcher));

    public override ILogicAndMaterializedValue<Task<long>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var written = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Task<long>>(new Logic(this, written), written.Task);
    }

    private sealed class Logic : InGraphStageLogic
    {
        private readonly NdjsonSinkStage _stage;
        private readonly TaskCompletionSource<long> _written;
        private readonly ArrayBufferWriter<byte> _text = new(InitialBufferBytes);
        private long _records;

        public Logic(NdjsonSinkStage stage, TaskCompletionSource<long> written) : base(stage.Shape)
        {
            _stage = stage;
            _written = written;
            SetHandler(stage.In, this);
        }

        public override void PreStart() => Pull(_stage.In);

        public override void OnPush()
        {
            var batch = Grab(_stage.In);
            try
            {
                _text.ResetWrittenCount();
                NdjsonOutputFormatter.WriteBatch(batch, _text);
                _stage._output.Write(_text.WrittenSpan);
                if (_stage._flushEachBatch) _stage._output.Flush();
                _records += batch.Count;
            }
            catch (Exception e)
            {
                _written.TrySetException(e);
                throw;
            }
            finally
            {
                batch.Release();
            }

            Pull(_stage.In);
        }

        public override void OnUpstreamFinish()
        {
            try
            {
                _stage._output.Flush();
            }
            catch (Exception e)
            {
                _written.TrySetException(e);
                throw;
            }

            _written.TrySetResult(_records);
            CompleteStage();
        }

        public override void OnUpstreamFailure(Exception e)
        {
            _written.TrySetException(e);
            FailStage(e);
        }

        public override void PostStop()
        {
            // Stopped without completion or failure from upstream: the stream was torn down under it.
            _written.TrySetException(new InvalidOperationException("the NDJSON output stopped before its input completed"));
        }
    }
}
