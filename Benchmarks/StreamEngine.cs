using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>lstmstream-stream</c>: the full Akka.Streams pipeline (<see cref="LstmPipeline"/>: batcher, session
/// slots, layer stages with their state arenas, head) fed with pre-parsed <see cref="StepBatch"/> fragments,
/// as the NDJSON parser would hand them over (whole rounds, at least 1024 rows or one round per fragment),
/// with every output batch counted and released at the end. <c>MaxBatchRows</c> = keys, so each micro-batch
/// is one round. A measurement materializes the flow once (<see cref="Start"/>) and lets it run.
/// </summary>
internal sealed class StreamEngine
{
    private const int FragmentRows = 1024;
    private readonly Flow<StepBatch, StepBatch, LstmPipelineHandle> _flow;
    private readonly IMaterializer _materializer;
    private readonly InputRounds _inputs;
    private readonly string[] _keyNames;

    /// <param name="backends">The per-matrix backends the engine chose (layers in order, then the head).</param>
    /// <param name="store">A session store for the pipeline (<see cref="PipelineOptions.SessionStore"/>); null: none.</param>
    public StreamEngine(LstmModel model, IReadOnlyList<IMatMulBackend> backends, InputRounds inputs, IMaterializer materializer,
        ISessionStore? store = null)
    {
        Model = model;
        _inputs = inputs;
        _materializer = materializer;
        _keyNames = Enumerable.Range(0, inputs.Keys).Select(KeyName).ToArray();
        var next = 0;
        // LstmPipeline asks the factory once per stage, layers first, then the head.
        _flow = LstmPipeline.Create(model, () => backends[next++], new PipelineOptions { MaxBatchRows = inputs.Keys, SessionStore = store, RestoreBufferRows = Math.Max(8192, inputs.Keys) });
        if (next != backends.Count) throw new InvalidOperationException($"the pipeline took {next} backends, {backends.Count} were chosen");
    }

    public LstmModel Model { get; }

    public int Keys => _inputs.Keys;

    public static string KeyName(int key) => $"key-{key}";

    /// <summary>
    /// Materializes the pipeline once for a measurement and lets it run freely on rounds generated inside the
    /// stream (no thread hand-off per fragment) until disposed, every output batch counted and released.
    /// </summary>
    /// <param name="started">Told the materialized pipeline's handle (its state access, e.g. for checkpoints).</param>
    public RunningStream Start(Action<LstmPipelineHandle>? started = null) => new(Keys, (stop, emitted) =>
    {
        var (handle, finished) = Source.From(Fragments(0, long.MaxValue / 2, stop))
            .ViaMaterialized(_flow, Keep.Right)
            .ToMaterialized(Sink.ForEach<StepBatch>(batch =>
            {
                var rows = batch.Count;
                batch.Release();
                emitted.Add(rows);
            }), Keep.Both)
            .Run(_materializer);
        started?.Invoke(handle);
        return (handle.Sessions, finished);
    });

    /// <summary>
    /// Runs <paramref name="rounds"/> rounds and returns every output of the last round, <c>[keys × OutputSize]</c>
    /// by key index (checks that each key's outputs come back in order).
    /// </summary>
    public float[] RunCollectingLastRound(int rounds)
    {
        var outputs = new LastRoundOutputs(_keyNames, Model.OutputSize, rounds);
        Source.From(Fragments(0, rounds))
            .Via(_flow)
            .RunForeach(batch =>
            {
                for (var r = 0; r < batch.Count; r++) outputs.Add(batch.Keys[r], batch.Seq[r], batch.Row(r));
                batch.Release();
            }, _materializer)
            .GetAwaiter().GetResult();
        return outputs.Result();
    }

    /// <summary>Rounds <c>first .. first + rounds - 1</c> as fragments of whole rounds.</summary>
    private IEnumerable<StepBatch> Fragments(long first, long rounds, Func<bool>? stop = null)
    {
        int keys = Keys, width = _inputs.InputSize;
        var roundsPerFragment = Math.Max(1, FragmentRows / keys);
        for (var round = first; round < first + rounds && stop?.Invoke() != true; round += roundsPerFragment)
        {
            var count = (int)Math.Min(roundsPerFragment, first + rounds - round);
            var fragment = StepBatch.Rent(count * keys, width);
            for (var r = round; r < round + count; r++)
            {
                var x = _inputs.Round(r);
                for (var k = 0; k < keys; k++)
                {
                    var row = fragment.Add(_keyNames[k], r, StepFlags.HasSeq, r);
                    x.Slice(k * width, width).CopyTo(fragment.Row(row));
                }
            }

            yield return fragment;
        }
    }
}
