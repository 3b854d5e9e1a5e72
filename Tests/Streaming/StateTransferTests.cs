using Akka.Streams;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

public sealed class StateTransferTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public StateTransferTests() => _materializer = Sys.Materializer();

    private RunningPipeline Start(LstmModel model, bool asyncLayers) => RunningPipeline.Start(this, _materializer, model,
        new PipelineOptions { MaxBatchRows = 32, AsyncLayers = asyncLayers, MaxBatchDelay = TimeSpan.FromMilliseconds(5) });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exported_state_imported_into_a_fresh_pipeline_continues_identically(bool asyncLayers)
    {
        var rng = new Random(13);
        var model = RandomModel(rng, 5, [6, 4], HeadActivation.None, peepholes: true);
        var steps = InterleavedSteps(rng, keys: 120, maxSteps: 10, width: 5);
        // First part: each key's first half; second part: the rest (per-key order kept).
        var seen = new Dictionary<string, int>();
        var totals = steps.GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.Count());
        var first = new List<TestStep>();
        var second = new List<TestStep>();
        foreach (var s in steps)
        {
            var n = seen[s.Key] = seen.GetValueOrDefault(s.Key) + 1;
            (n <= (totals[s.Key] + 1) / 2 ? first : second).Add(s);
        }

        var expected = Reference(model, steps);

        var a = Start(model, asyncLayers);
        var outA = await a.SendAndCollectAsync(Fragments(first, 5, rng, 20), first.Count);
        var keys = totals.Keys.Order(StringComparer.Ordinal).ToList();
        var states = await a.Handle.State.ExportAsync(keys).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(keys, states.Select(s => s.Key));
        Assert.All(states, s => Assert.Equal(model.Identity, s.ModelIdentity));
        Assert.Equal(keys.Count, a.Handle.Sessions.LiveKeys);
        await a.Source.SendCompleteAsync();
        await a.Sink.RequestAsync(1);
        await a.Sink.ExpectCompleteAsync();

        var b = Start(model, asyncLayers);
        await b.Handle.State.ImportAsync(states).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(keys.Count, b.Handle.Sessions.LiveKeys);
        var outB = await b.SendAndCollectAsync(Fragments(second, 5, rng, 20), second.Count);
        await b.Source.SendCompleteAsync();

        AssertMatchesReference(first, outA, expected);
        AssertMatchesReference(second, outB, expected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_export_taken_while_data_flows_is_a_consistent_cut_of_the_input(bool asyncLayers)
    {
        var model = SeedModel(8);
        var rng = new Random(4);
        var steps = InterleavedSteps(rng, keys: 30, maxSteps: 12, width: 6);
        var fragments = Fragments(steps, 6, rng, 3);
        var run = Start(model, asyncLayers);
        var keys = steps.Select(s => s.Key).Distinct().ToList();

        var reading = Task.Run(async () =>
        {
            var outputs = new List<TestOutput>();
            while (outputs.Count < steps.Count) outputs.AddRange(Drain(await run.Sink.RequestNextAsync(TimeSpan.FromSeconds(20)), 0));
            return outputs;
        });
        Task<IReadOnlyList<KeyState>>? midway = null;
        for (var i = 0; i < fragments.Count; i++)
        {
            if (i == fragments.Count / 2) midway = run.Handle.State.ExportAsync(keys);
            await run.Source.SendNextAsync(fragments[i]);
        }

        await reading.WaitAsync(TimeSpan.FromSeconds(30));
        var atEnd = await run.Handle.State.ExportAsync(keys).WaitAsync(TimeSpan.FromSeconds(20));
        var cutMidway = ConsistentCut(model, steps, await midway!.WaitAsync(TimeSpan.FromSeconds(20)));
        var cutAtEnd = ConsistentCut(model, steps, atEnd);

        Assert.Equal(steps.Count, cutAtEnd);
        Assert.InRange(cutMidway, 0, steps.Count);
        await run.Source.SendCompleteAsync();
    }

    /// <summary>
    /// Finds how many of each key's steps the exported states include (by comparing with the reference state
    /// after each step), checks that together they are one prefix of the input, and returns its length.
    /// </summary>
    private static int ConsistentCut(LstmModel model, IReadOnlyList<TestStep> steps, IReadOnlyList<KeyState> exported)
    {
        var lstm = new StackedLstm(model, new ManagedMatMul());
        var byKey = exported.ToDictionary(s => s.Key);
        int lower = 0, upper = steps.Count;
        foreach (var group in steps.GroupBy(s => s.Key))
        {
            var keySteps = group.ToList();
            var included = 0;
            if (byKey.TryGetValue(group.Key, out var state))
            {
                LstmState? current = null;
                included = -1;
                for (var n = 1; n <= keySteps.Count && included < 0; n++)
                {
                    current = lstm.Run(keySteps[n - 1].X, 1, 1, initialState: current).FinalState;
                    if (Enumerable.Range(0, model.Layers.Count).All(k =>
                            current.C[k].AsSpan().SequenceEqual(state.C[k]) && current.H[k].AsSpan().SequenceEqual(state.H[k])))
                        included = n;
                }

                Assert.True(included > 0, $"the exported state of key '{group.Key}' matches no prefix of its steps");
            }

            if (included > 0) lower = Math.Max(lower, (int)keySteps[included - 1].Tag + 1);
            if (included < keySteps.Count) upper = Math.Min(upper, (int)keySteps[included].Tag);
        }

        Assert.True(lower <= upper, $"the export is not a cut of the input: it includes step {lower - 1} but not step {upper}");
        return lower;
    }

    [Fact]
    public async Task Export_with_removal_hands_a_key_over_and_unknown_keys_are_absent()
    {
        var model = SeedModel(2);
        var rng = new Random(6);
        var x = RandomArray(rng, 6, 1);
        var run = Start(model, asyncLayers: false);
        var firstOut = await run.SendAndCollectAsync([Fragment([new TestStep("m", 0, x, StepFlags.None, 0)], 6)], 1);

        Assert.Null(await run.Handle.State.ExportAsync("never-seen"));
        var moved = await run.Handle.State.ExportAsync("m", remove: true);
        Assert.NotNull(moved);
        Assert.Equal(0, run.Handle.Sessions.LiveKeys);

        // Here the key starts again from zero; with its state put back it continues.
        var fresh = await run.SendAndCollectAsync([Fragment([new TestStep("m", 1, x, StepFlags.None, 1)], 6)], 1);
        Assert.Equal(firstOut[0].Y, fresh[0].Y);
        await run.Handle.State.ImportAsync(moved);
        var continued = await run.SendAndCollectAsync([Fragment([new TestStep("m", 2, x, StepFlags.None, 2)], 6)], 1);
        var expected = Reference(model, [new TestStep("m", 0, x, StepFlags.None, 0), new TestStep("m", 1, x, StepFlags.None, 1)]);
        Assert.Equal(expected[1], continued[0].Y);
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public async Task State_of_another_model_or_with_wrong_shapes_is_refused()
    {
        var model = SeedModel(2);
        var other = SeedModel(3);
        var run = Start(model, asyncLayers: false);

        var foreign = new KeyState(other.Identity, "k", [new float[4], new float[5]], [new float[4], new float[5]]);
        var e1 = await Assert.ThrowsAsync<ArgumentException>(() => run.Handle.State.ImportAsync(foreign));
        Assert.Contains("'k'", e1.Message);
        Assert.Contains(other.Identity, e1.Message);
        Assert.Contains(model.Identity, e1.Message);

        var misshapen = new KeyState(model.Identity, "k", [new float[4], new float[3]], [new float[4], new float[5]]);
        var e2 = await Assert.ThrowsAsync<ArgumentException>(() => run.Handle.State.ImportAsync(misshapen));
        Assert.Contains("layer 1 C has 3 values, expected 5", e2.Message);

        var good = new KeyState(model.Identity, "k", [new float[4], new float[5]], [new float[4], new float[5]]);
        await Assert.ThrowsAsync<ArgumentException>(() => run.Handle.State.ImportAsync([good, good]));
        Assert.Equal(0, run.Handle.Sessions.LiveKeys);

        await run.Handle.State.ImportAsync(good).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, run.Handle.Sessions.LiveKeys);
        await run.Source.SendCompleteAsync();
    }

    [Fact]
    public async Task Requests_fail_instead_of_hanging_once_the_pipeline_has_stopped()
    {
        var run = Start(SeedModel(2), asyncLayers: false);
        await run.Sink.RequestAsync(1);
        await run.Source.SendErrorAsync(new InvalidOperationException("gone"));
        await run.Sink.ExpectErrorAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => run.Handle.State.ExportAsync("k").WaitAsync(TimeSpan.FromSeconds(20)));
    }
}
