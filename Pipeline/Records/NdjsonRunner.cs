using System.Runtime.ExceptionServices;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Pipeline.Records;

/// <summary>
/// Streams NDJSON records through a model: input stream → <see cref="NdjsonSourceStage"/> (read, parse) → the
/// model flow → <see cref="NdjsonSinkStage"/> (format, write) → output stream, with backpressure end to end (the
/// input is read only as fast as the output is written). Rejected lines are written to the error writer as one JSON line each,
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

    /// <summary>A runner for a model of <paramref name="inputSize"/> inputs.</summary>
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

        var reader = new NdjsonSourceStage(input, InputSize, _options.ChunkBytes, _options.MaxRowsPerBatch,
            error => errors.WriteLine(NdjsonOutputFormatter.FormatError(error)), _options.MaxLineBytes, _options.KeyCacheSize, _options.MaxKeyBytes);
        var writer = new NdjsonSinkStage(output, _options.FlushEachBatch);

        // Three islands: reading and parsing, the model, formatting and writing (each of the ends on the
        // blocking-I/O dispatcher), so that parsing, stepping and formatting run side by side.
        var io = ActorAttributes.CreateDispatcher(NdjsonSourceStage.BlockingIoDispatcher);
        var ((parsed, killSwitch), written) = Source.FromGraph(reader).AddAttributes(io).Async()
            .ViaMaterialized(KillSwitches.Single<StepBatch>(), Keep.Both)
            .Via(model)
            .ToMaterialized(Sink.FromGraph(writer).AddAttributes(io).Async(), Keep.Both)
            .Run(materializer);

        await using var cancel = cancellationToken.Register(
            () => killSwitch.Abort(new OperationCanceledException("the NDJSON run was cancelled", cancellationToken)));

        long recordsOut;
        try
        {
            recordsOut = await written.ConfigureAwait(false);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            // The sink fails with what stopped the stream (the model, the input, a cancellation), which the
            // boundary between islands may have wrapped: throw that.
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
            throw;
        }

        var counts = await parsed.ConfigureAwait(false);
        await errors.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        return new NdjsonRunSummary(counts.Lines, counts.Records, counts.Rejected, recordsOut);
    }
}
