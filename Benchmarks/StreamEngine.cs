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
/// with every output batch counted and released at the end. <c>MaxBatchRows</c> = keys unless given, so each micro-batch
/// is one round. A measurement materializes the flow once (<see cref="Start"/>) and lets it run.
/// </summary>
internal sealed class StreamEngine
{
    private const int FragmentRows = 1024;
    private readonly Flow<StepBatch, StepBatch, LstmPipelineHandle> _flow;
    private readonly IMaterializer _materializer;
    private readonly InputRounds _inputs;
    private readonly string[] _keyNames;
    private readonly bool _splitRounds;

    /// <param name="backends">The per-matrix backends the engine chose (layers in order, then the head).</param>
    /// <param name="store">A session store for the pipeline (<see cref="PipelineOptions.SessionStore"/>); null: none.</param>
    /// <param name="maxBatchRows">Rows per micro-batch, and rounds handed over in fragments of at most <see cref="FragmentRows"/> rows;
    /// null: keys (each micro-batch is one round, handed over whole).</param>
    public StreamEngine(LstmModel model, IReadOnlyList<IMatMulBackend> backends, InputRounds inputs, IMaterializer materializer,
        ISessionStore? store = null, int? maxBatchRows = null)
    {
        Model = model;
        _inputs = inputs;
        _materializer = materializer;
        _keyNames = Enumerable.Range(0, inputs.Keys).Select(KeyName).ToArray();
        _splitRounds = maxBatchRows is not null;
        var next = 0;
        // LstmPipeline asks the factory once per stage, layers first, then the head.
        _flow = LstmPipeline.Create(model, () => backends[next++], new PipelineOptions { MaxBatchRows = maxBatchRows ?? inputs.Keys, SessionStore = store, RestoreBufferRows = Math.Max(8192, inputs.Keys) });
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

    /// <summary>
    /// Rounds <c>first .. first + rounds - 1</c> as fragments: whole rounds (at least <see cref="FragmentRows"/> rows or one
    /// round per fragment), or with a given batch size parts of a round of at most <see cref="FragmentRows"/> rows each, as the
    /// NDJSON parser hands over a socket's or file's chunks (then a request entering the stream waits behind one such
    /// fragment, not behind a whole round of 100,000 rows).
    /// </summary>
    private IEnumerable<StepBatch> Fragments(long first, long rounds, Func<bool>? stop = null)
    {
        int keys = Keys, width = _inputs.InputSize;
        var roundsPerFragment = Math.Max(1, FragmentRows / keys);
        var rowsPerFragment = _splitRounds ? Math.Min(FragmentRows, keys) : roundsPerFragment * keys;
        for (var round = first; round < first + rounds && stop?.Invoke() != true; round += roundsPerFragment)
        {
            var count = (int)Math.Min(roundsPerFragment, first + rounds - round);
            StepBatch? fragment = null;
            for (var r = round; r < round + count; r++)
            {
                for (var k = 0; k < keys; k++)
                {
                    fragment ??= StepBatch.Rent(Math.Min(rowsPerFragment, (count - (int)(r - round)) * keys - k), width);
                    var row = fragment.Add(_keyNames[k], r, StepFlags.HasSeq, r);
                    _inputs.Round(r).Slice(k * width, width).CopyTo(fragment.Row(row));
                    if (fragment.Count < rowsPerFragment) continue;
                    yield return fragment;
                    fragment = null;
                }
            }

            if (fragment is not null) yield return fragment;
        }
    }
}
