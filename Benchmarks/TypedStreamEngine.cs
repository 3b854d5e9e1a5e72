using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Flows;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>lstmstream-typed</c>: the typed library API (<see cref="LstmFlow"/>) on the same model, backends, batching and
/// inputs as <see cref="StreamEngine"/>: one <see cref="LstmStep"/> object per step made inside the stream (key,
/// memory of the step's input, seq), one <see cref="LstmOutput"/> (with its own <c>float[]</c>) per result,
/// counted by the sink. What it costs over the pooled-buffer fast path is the price of the typed API.
/// </summary>
internal sealed class TypedStreamEngine
{
    /// <summary>Steps per input batch of the batched flow: whole rounds, at least this many (as <see cref="StreamEngine"/>'s fragments).</summary>
    private const int BatchSteps = 1024;

    private readonly Flow<LstmStep, LstmResult, LstmFlowHandle> _flow;
    private readonly Flow<IReadOnlyList<LstmStep>, LstmResultBatch, LstmFlowHandle> _batchedFlow;
    private readonly IMaterializer _materializer;
    private readonly InputRounds _inputs;
    private readonly string[] _keyNames;

    public TypedStreamEngine(LstmModel model, ModelMatMulBackends backends, InputRounds inputs, IMaterializer materializer)
    {
        Model = model;
        _inputs = inputs;
        _materializer = materializer;
        _keyNames = Enumerable.Range(0, inputs.Keys).Select(StreamEngine.KeyName).ToArray();
        var engine = LstmEngine.Create(model, backends, new PipelineOptions { MaxBatchRows = inputs.Keys });
        _flow = LstmFlow.Create(engine);
        _batchedFlow = LstmFlow.CreateBatched(engine);
    }

    public LstmModel Model { get; }

    public int Keys => _inputs.Keys;

    /// <summary>Materializes the flow once for a measurement and lets it run freely until disposed, every result counted.</summary>
    public RunningStream Start() => new(Keys, (stop, emitted) =>
    {
        var (handle, finished) = Source.From(Steps(0, long.MaxValue / 2, stop))
            .ViaMaterialized(_flow, Keep.Right)
            .ToMaterialized(Sink.ForEach<LstmResult>(_ => emitted.Add(1)), Keep.Both)
            .Run(_materializer);
        return (handle.Sessions, finished);
    });

    /// <summary>
    /// <c>lstmstream-typed-batched</c>: the batched typed flow (<see cref="LstmFlow.CreateBatched"/>) fed with arrays of
    /// <see cref="LstmStep"/>s as the pooled row's fragments (whole rounds, at least <see cref="BatchSteps"/> steps), one
    /// <see cref="LstmStep"/> object made per step inside the stream, every <see cref="LstmResultBatch"/>'s rows counted.
    /// </summary>
    public RunningStream StartBatched() => new(Keys, (stop, emitted) =>
    {
        var (handle, finished) = Source.From(StepBatches(0, long.MaxValue / 2, stop))
            .ViaMaterialized(_batchedFlow, Keep.Right)
            .ToMaterialized(Sink.ForEach<LstmResultBatch>(batch => emitted.Add(batch.Count)), Keep.Both)
            .Run(_materializer);
        return (handle.Sessions, finished);
    });

    /// <summary>
    /// <c>lstmstream-typed-floor</c>: the same caller's graph with the model taken out: the same steps made by
    /// <c>Source.From</c>, one <see cref="LstmOutput"/> with its own <c>float[]</c> (the model's output size) made per
    /// step by a <c>Select</c>, counted by the same sink. What one element costs in an Akka.Streams graph (the
    /// interpreter's push and pull, the objects), which the typed flow cannot undercut.
    /// </summary>
    public RunningStream StartFloor() => new(Keys, (stop, emitted) =>
    {
        var width = Model.OutputSize;
        var counters = new SessionCounters();
        var finished = Source.From(Steps(0, long.MaxValue / 2, stop))
            .Select(LstmResult (step) => new LstmOutput(step.Key, step.Seq, new float[width]))
            .RunWith(Sink.ForEach<LstmResult>(_ => emitted.Add(1)), _materializer);
        return (counters, finished);
    });

    /// <summary>
    /// Runs <paramref name="rounds"/> rounds and returns every output of the last round, <c>[keys × OutputSize]</c>
    /// by key index (checks that each key's outputs come back in order and that none was rejected).
    /// </summary>
    public float[] RunCollectingLastRound(int rounds)
    {
        var outputs = new LastRoundOutputs(_keyNames, Model.OutputSize, rounds);
        Source.From(Steps(0, rounds))
            .Via(_flow)
            .RunForeach(result =>
            {
                if (result is not LstmOutput output) throw new InvalidOperationException($"a benchmark step was rejected: {result}");
                outputs.Add(output.Key, output.Seq!.Value, output.Y);
            }, _materializer)
            .GetAwaiter().GetResult();
        return outputs.Result();
    }

    /// <summary><see cref="RunCollectingLastRound"/> through the batched flow.</summary>
    public float[] RunBatchedCollectingLastRound(int rounds)
    {
        var outputs = new LastRoundOutputs(_keyNames, Model.OutputSize, rounds);
        Source.From(StepBatches(0, rounds))
            .Via(_batchedFlow)
            .RunForeach(batch =>
            {
                foreach (var row in batch)
                {
                    if (row.Kind != LstmResultKind.Output) throw new InvalidOperationException($"a benchmark step was not run: {row}");
                    outputs.Add(row.Key!, row.Seq!.Value, row.Y.Span);
                }
            }, _materializer)
            .GetAwaiter().GetResult();
        return outputs.Result();
    }

    /// <summary>Rounds <c>first .. first + rounds - 1</c> as arrays of typed steps: whole rounds, at least <see cref="BatchSteps"/> steps each.</summary>
    private IEnumerable<IReadOnlyList<LstmStep>> StepBatches(long first, long rounds, Func<bool>? stop = null)
    {
        var roundsPerBatch = Math.Max(1, BatchSteps / Keys);
        for (var round = first; round < first + rounds && stop?.Invoke() != true; round += roundsPerBatch)
        {
            var count = (int)Math.Min(roundsPerBatch, first + rounds - round);
            var steps = new LstmStep[count * Keys];
            var i = 0;
            for (var r = round; r < round + count; r++)
            {
                for (var k = 0; k < Keys; k++) steps[i++] = new LstmStep(_keyNames[k], _inputs.RowMemory(r, k), r);
            }

            yield return steps;
        }
    }

    /// <summary>Rounds <c>first .. first + rounds - 1</c>, every key once per round, as typed steps.</summary>
    private IEnumerable<LstmStep> Steps(long first, long rounds, Func<bool>? stop = null)
    {
        for (var round = first; round < first + rounds && stop?.Invoke() != true; round++)
        {
            for (var k = 0; k < Keys; k++) yield return new LstmStep(_keyNames[k], _inputs.RowMemory(round, k), round);
        }
    }
}
