using System.Buffers;
using System.Runtime.ExceptionServices;
using Akka;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.IO;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Streams NDJSON records through a model: input bytes → <see cref="NdjsonParseStage"/> → the model flow →
/// <see cref="NdjsonOutputFormatter"/> → output bytes, with backpressure end to end (the input is read only
/// as fast as the output is written). Rejected lines are written to the error writer as one JSON line each,
/// every valid line goes on; the returned <see cref="NdjsonRunSummary"/> counts both, and a command-line
/// caller exits non-zero when <see cref="NdjsonRunSummary.AnyRejected"/>.
/// <para>
/// The model flow receives batches of up to <see cref="NdjsonRunnerOptions.MaxRowsPerBatch"/> rows of
/// <see cref="InputSize"/> floats (a key may occur more than once in a batch; the flow batches by key itself)
/// whose tags are the input line numbers, and must emit every row it is given, in order per key, with its
/// output vector. The runner releases each batch once written. The streams stay open (the caller owns them).
/// </para>
/// </summary>
public sealed class NdjsonRunner
{
    private readonly NdjsonRunnerOptions _options;

    public NdjsonRunner(int inputSize, NdjsonRunnerOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        _options = options ?? new NdjsonRunnerOptions();
        _options.Validate();
        InputSize = inputSize;
    }

    /// <summary>The model's input size: the length every <c>x</c> must have.</summary>
    public int InputSize { get; }

    /// <summary>Runs the stream on a materializer of its own, created on <paramref name="system"/> and shut down after.</summary>
    public async Task<NdjsonRunSummary> RunAsync(Stream input, Stream output, TextWriter errors,
        Flow<StepBatch, StepBatch, NotUsed> model, ActorSystem system, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(system);
        using var materializer = ActorMaterializer.Create(system);
        return await RunAsync(input, output, errors, model, materializer, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the stream to the end of <paramref name="input"/> and returns the counts.</summary>
    public async Task<NdjsonRunSummary> RunAsync(Stream input, Stream output, TextWriter errors,
        Flow<StepBatch, StepBatch, NotUsed> model, IMaterializer materializer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(materializer);
        cancellationToken.ThrowIfCancellationRequested();

        long recordsOut = 0;
        var text = new ArrayBufferWriter<byte>(64 * 1024);
        var parse = new NdjsonParseStage(InputSize, _options.MaxRowsPerBatch,
            error => errors.WriteLine(NdjsonOutputFormatter.FormatError(error)),
            _options.MaxLineBytes, _options.KeyCacheSize);

        var ((killSwitch, parsed), written) = StreamConverters
            .FromInputStream(() => new LeaveOpenStream(input), _options.ChunkBytes)
            .ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Right)
            .ViaMaterialized(parse, Keep.Both)
            .Via(model)
            .Select(batch =>
            {
                text.ResetWrittenCount();
                NdjsonOutputFormatter.WriteBatch(batch, text);
                Interlocked.Add(ref recordsOut, batch.Count);
                batch.Release();
                return ByteString.FromBytes(text.WrittenSpan.ToArray());
            })
            .ToMaterialized(StreamConverters.FromOutputStream(() => new LeaveOpenStream(output), _options.FlushEachBatch), Keep.Both)
            .Run(materializer);

        await using var cancel = cancellationToken.Register(
            () => killSwitch.Abort(new OperationCanceledException("the NDJSON run was cancelled", cancellationToken)));

        IOResult io;
        try
        {
            io = await written.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The output sink wraps what stopped the stream (the model, the input, a cancellation): throw that.
            ExceptionDispatchInfo.Throw(Cause(e));
            throw;
        }

        if (!io.WasSuccessful) ExceptionDispatchInfo.Throw(Cause(io.Error));
        var counts = await parsed.ConfigureAwait(false);
        await errors.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        return new NdjsonRunSummary(counts.Lines, counts.Records, counts.Rejected, Interlocked.Read(ref recordsOut));
    }

    private static Exception Cause(Exception e)
    {
        while (e.InnerException is { } inner && e is AbruptIOTerminationException or AggregateException { InnerExceptions.Count: 1 })
            e = inner;
        return e;
    }
}
