using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Tests.Numerics.Native;

namespace LstmStream.Tests.Numerics.Selection;

/// <summary>Dispatch by row count, plan validation and text, and the autotuner's choices.</summary>
public sealed class TunedMatMulTests
{
    [Fact]
    public void Each_call_goes_to_the_planned_backend_and_gives_its_exact_result()
    {
        // Three distinct sub-backends: the available natives (any thread count) and managed instances to fill up.
        var available = MatMulBackendRegistry.CreateAvailable(2).ToList();
        while (available.Count < 3) available.Add(new ManagedMatMul());
        var recorders = available.Take(3).Select(b => new RecordingBackend(b)).ToArray();
        var plan = new MatMulDispatchPlan(
        [
            new MatMulDispatchRange(3, recorders[0]),
            new MatMulDispatchRange(20, recorders[1]),
            new MatMulDispatchRange(int.MaxValue, recorders[2]),
        ]);
        var tuned = new TunedMatMul(plan, "[37x70]");
        Assert.Equal($"[37x70]: rows<=3 {recorders[0].Name}, 3<rows<=20 {recorders[1].Name}, rows>20 {recorders[2].Name}", tuned.Description);

        const int k = 37, n = 70;
        var random = new Random(11);
        var b = ReferenceGemm.Random(random, k * n);
        var bias = ReferenceGemm.Random(random, n);
        var packed = tuned.Pack(b, k, n);
        Assert.Equal(k, packed.Rows);
        Assert.Equal(n, packed.Columns);
        Assert.All(recorders, r => Assert.Equal(1, r.PackCalls));

        foreach (var m in new[] { 1, 2, 3, 4, 5, 19, 20, 21, 22, 64, 300 })
        {
            var a = ReferenceGemm.Random(random, m * k);
            var viaTuned = new float[m * n];
            foreach (var r in recorders) r.LastRows = -1;
            tuned.Multiply(a, m, packed, bias, viaTuned);

            var expectedIndex = m <= 3 ? 0 : m <= 20 ? 1 : 2;
            for (var i = 0; i < recorders.Length; i++) Assert.Equal(i == expectedIndex ? m : -1, recorders[i].LastRows);

            var direct = new float[m * n];
            var chosen = recorders[expectedIndex];
            chosen.Multiply(a, m, chosen.Pack(b, k, n), bias, direct);
            Assert.Equal(direct, viaTuned);
        }

        var foreign = new ManagedMatMul().Pack(b, k, n);
        Assert.Contains("not by this auto backend", Assert.Throws<ArgumentException>(() => tuned.Multiply(new float[k], 1, foreign, bias, new float[n])).Message);
    }

    [Fact]
    public void Plans_merge_neighbours_and_refuse_gaps_and_bounded_ends()
    {
        var x = new ManagedMatMul();
        var y = new RecordingBackend(new ManagedMatMul(), "other");
        var merged = new MatMulDispatchPlan([new(4, x), new(16, x), new(int.MaxValue, y)]);
        Assert.Equal(2, merged.Ranges.Count);
        Assert.Equal("rows<=16 managed, rows>16 other", merged.ToString());
        Assert.Same(x, merged.BackendFor(0));
        Assert.Same(x, merged.BackendFor(16));
        Assert.Same(y, merged.BackendFor(17));
        Assert.Equal([x, y], merged.Backends);
        Assert.Equal("all rows managed", MatMulDispatchPlan.Single(x).ToString());
        Assert.Contains("must ascend", Assert.Throws<ArgumentException>(() => new MatMulDispatchPlan([new(8, x), new(8, y), new(int.MaxValue, x)])).Message);
        Assert.Contains("must be unbounded", Assert.Throws<ArgumentException>(() => new MatMulDispatchPlan([new(8, x)])).Message);
        Assert.Throws<ArgumentException>(() => new MatMulDispatchPlan([]));
    }

    [Fact]
    public void The_autotuner_picks_the_faster_backend_per_row_range()
    {
        // Simulated time: one backend costs 20 µs per row, the other a flat 500 µs. At 1 row the first is 25×
        // faster, at 64 rows the second is 2.5× faster; 8 = √(1 · 64) separates the ranges.
        var clock = new ManualClock();
        var perRow = new TimedBackend("per-row", clock, rows => TimeSpan.FromMicroseconds(20 * rows));
        var flat = new TimedBackend("flat", clock, _ => TimeSpan.FromMicroseconds(500));
        var options = new MatMulAutotuneOptions { BatchSizes = [1, 64], Repetitions = 5 };
        var tuned = new MatMulAutotuner([perRow, flat], options, clock).Tune(10, 12, TimeSpan.FromSeconds(1));

        Assert.Equal("[10x12]: rows<=8 per-row, rows>8 flat", tuned.Description);
        Assert.Equal(["per-row", "flat", "per-row", "flat"], tuned.Timings.Select(t => t.Backend));
        Assert.Equal([1, 1, 64, 64], tuned.Timings.Select(t => t.Rows));
        Assert.Equal([20e-6, 500e-6, 1280e-6, 500e-6], tuned.Timings.Select(t => Math.Round(t.SecondsPerCall, 9)));

        // Within the preference margin the earlier candidate keeps the range.
        var almost = new TimedBackend("almost", clock, _ => TimeSpan.FromMicroseconds(102));
        var best = new TimedBackend("best", clock, _ => TimeSpan.FromMicroseconds(100));
        var close = new MatMulAutotuner([almost, best], options with { BatchSizes = [1] }, clock).Tune(3, 3, TimeSpan.FromSeconds(1));
        Assert.Equal("[3x3]: all rows almost", close.Description);
        var clear = new MatMulAutotuner([almost, best], options with { BatchSizes = [1], PreferEarlierWithin = 0 }, clock).Tune(3, 3, TimeSpan.FromSeconds(1));
        Assert.Equal("[3x3]: all rows best", clear.Description);
    }

    [Fact]
    public void The_autotuner_stops_at_row_counts_the_budget_cannot_pay_for()
    {
        // Predicted from 2 rows, 100 000 rows would take 20 s per call of the slow backend: never started.
        var clock = new ManualClock();
        var slow = new TimedBackend("slow", clock, rows => TimeSpan.FromMicroseconds(200 * rows));
        var flat = new TimedBackend("flat", clock, _ => TimeSpan.FromMicroseconds(100));
        var options = new MatMulAutotuneOptions { BatchSizes = [1, 2, 100_000], Repetitions = 3 };
        var tuned = new MatMulAutotuner([slow, flat], options, clock).Tune(4, 4, TimeSpan.FromSeconds(1));
        Assert.Equal([1, 2], tuned.Timings.Select(t => t.Rows).Distinct());
        Assert.Equal(int.MaxValue, tuned.Plan.Ranges[^1].MaxRows);
        Assert.True(clock.Now < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void No_new_round_of_repetitions_starts_once_the_budget_is_spent()
    {
        // Two warm-up calls of 30 ms each per backend already spend the 50 ms budget: one round follows, no more.
        var clock = new ManualClock();
        var first = new TimedBackend("first", clock, _ => TimeSpan.FromMilliseconds(30));
        var second = new TimedBackend("second", clock, _ => TimeSpan.FromMilliseconds(20));
        var options = new MatMulAutotuneOptions { BatchSizes = [1, 2], Repetitions = 5 };
        var tuned = new MatMulAutotuner([first, second], options, clock).Tune(3, 3, TimeSpan.FromMilliseconds(50));
        Assert.Equal(3, first.Calls);
        Assert.Equal(3, second.Calls);
        Assert.Equal([1], tuned.Timings.Select(t => t.Rows).Distinct());
        Assert.Equal("[3x3]: all rows second", tuned.Description);
    }

    [Fact]
    public void Autotuning_the_real_backends_gives_a_complete_plan_whose_choices_compute_correctly()
    {
        var candidates = MatMulBackendRegistry.CreateAvailable(1);
        var tuned = new MatMulAutotuner(candidates, new MatMulAutotuneOptions { BatchSizes = [1, 8, 64] })
            .Tune(45, 96, TimeSpan.FromMilliseconds(200));
        Assert.Equal(int.MaxValue, tuned.Plan.Ranges[^1].MaxRows);
        Assert.All(tuned.Plan.Backends, b => Assert.Contains(b, candidates));
        Assert.Equal(candidates.Select(c => c.Name), tuned.Timings.Where(t => t.Rows == 1).Select(t => t.Backend));
        Assert.StartsWith("[45x96]: ", tuned.Description);

        var random = new Random(5);
        foreach (var m in new[] { 1, 7, 8, 9, 40, 200 })
            BackendReferenceTests.Check(tuned, GemmCase.Create(random, m, 45, 96, withBias: m % 2 == 0));
    }

    [Fact]
    public void Without_interleaving_the_backends_are_timed_one_after_another()
    {
        var clock = new ManualClock();
        var order = new List<string>();
        var a = new TimedBackend("a", clock, _ => TimeSpan.FromMicroseconds(100), order);
        var b = new TimedBackend("b", clock, _ => TimeSpan.FromMicroseconds(80), order);
        var options = new MatMulAutotuneOptions { BatchSizes = [1, 4], Repetitions = 3, Interleave = false };
        var tuned = new MatMulAutotuner([a, b], options, clock).Tune(3, 3, TimeSpan.FromSeconds(1));
        // Every row count of a (warm-up and repetitions; one call per repetition: each call is ≥ 50 µs), then of b.
        Assert.Equal([.. Enumerable.Repeat("a", 10), .. Enumerable.Repeat("b", 10)], order);
        Assert.Equal([1, 1, 4, 4], tuned.Timings.Select(t => t.Rows));
        Assert.Equal("[3x3]: all rows b", tuned.Description);

        order.Clear();
        new MatMulAutotuner([a, b], options with { Interleave = true, BatchSizes = [1] }, clock).Tune(3, 3, TimeSpan.FromSeconds(1));
        Assert.Equal(["a", "a", "b", "b", "a", "b", "a", "b", "a", "b"], order);
    }

    [Fact]
    public void Layer_tuning_times_whole_layer_steps()
    {
        // A projected layer's step multiplies twice (gates, then projection), so a 10 µs multiply costs a step 20 µs.
        var clock = new ManualClock();
        var cheap = new TimedBackend("cheap", clock, _ => TimeSpan.FromMicroseconds(10));
        var dear = new TimedBackend("dear", clock, rows => TimeSpan.FromMicroseconds(3 * rows));
        var layer = Numerics.ReferenceLstmCell.RandomLayer(new Random(2), 5, 6, projectionSize: 3);
        var options = new MatMulAutotuneOptions { BatchSizes = [1, 8], Repetitions = 3 };
        var tuned = new MatMulAutotuner([dear, cheap], options, clock).TuneLayer(layer, TimeSpan.FromSeconds(1));

        Assert.Equal("[8x24]: rows<=2 dear, rows>2 cheap", tuned.Description);
        Assert.All(tuned.Timings, t => Assert.Equal((8, 24), (t.K, t.N)));
        Assert.Equal([6e-6, 20e-6, 48e-6, 20e-6], tuned.Timings.Select(t => Math.Round(t.SecondsPerCall, 9)));
    }

    [Fact]
    public void Layer_tuning_on_the_real_backends_gives_a_plan_that_steps_like_the_managed_kernel()
    {
        var layer = Numerics.ReferenceLstmCell.RandomLayer(new Random(8), 12, 40, peepholes: true);
        var candidates = MatMulBackendRegistry.CreateAvailable(1);
        var tuned = new MatMulAutotuner(candidates, new MatMulAutotuneOptions { BatchSizes = [1, 8, 64] })
            .TuneLayer(layer, TimeSpan.FromMilliseconds(300));
        Assert.Equal(int.MaxValue, tuned.Plan.Ranges[^1].MaxRows);
        Assert.Equal(candidates.Select(c => c.Name), tuned.Timings.Where(t => t.Rows == 1).Select(t => t.Backend));

        var random = new Random(4);
        foreach (var rows in new[] { 1, 9, 100 })
        {
            var xh = Numerics.ReferenceLstmCell.RandomValues(random, rows * layer.ConcatSize);
            var c0 = Numerics.ReferenceLstmCell.RandomValues(random, rows * layer.CellSize);
            var (h1, c1) = Numerics.ReferenceLstmCell.StepFromCopy(layer, tuned, rows, xh, c0);
            var (h2, c2) = Numerics.ReferenceLstmCell.StepFromCopy(layer, new ManagedMatMul(), rows, xh, c0);
            for (var i = 0; i < h1.Length; i++) Assert.Equal(h2[i], h1[i], 1e-5f);
            for (var i = 0; i < c1.Length; i++) Assert.Equal(c2[i], c1[i], 1e-5f);
        }
    }

    /// <summary>Wraps a backend, renames it if asked, and records the row count of its last multiply.</summary>
    [Fact]
    public void A_tuned_backend_offers_each_row_count_the_capability_of_the_backend_its_plan_sends_it_to()
    {
        // Up to 16 rows on the managed kernel (fused step), more on a backend that only multiplies.
        using var managed = new ManagedMatMul(1, 256);
        var other = new RecordingBackend(new ManagedMatMul(1, 256), "other");
        var tuned = new TunedMatMul(new MatMulDispatchPlan([new MatMulDispatchRange(16, managed), new MatMulDispatchRange(int.MaxValue, other)]));
        Assert.Same(((IMatMulBackend)managed).CapabilityFor(16), tuned.CapabilityFor(16));
        Assert.Same(MatMulCapability.MultiplyOnly, tuned.CapabilityFor(17));
        Assert.Equal([((IMatMulBackend)managed).CapabilityFor(1), MatMulCapability.MultiplyOnly], tuned.Capabilities);

        // A layer packed on it fuses exactly the row counts that go to the managed kernel, and its steps equal the
        // managed kernel's on either side of the limit.
        var layer = Numerics.ReferenceLstmCell.RandomLayer(new Random(9), 7, 24, peepholes: true);
        var packed = new PackedLstmLayer(layer, tuned, 256);
        Assert.True(packed.IsFusedFor(16));
        Assert.False(packed.IsFusedFor(17));
        var random = new Random(10);
        foreach (var rows in new[] { 16, 17 })
        {
            var xh = Numerics.ReferenceLstmCell.RandomValues(random, rows * layer.ConcatSize);
            var c0 = Numerics.ReferenceLstmCell.RandomValues(random, rows * layer.CellSize);
            float[] Step(LstmLayerKernel kernel, out float[] c)
            {
                c = (float[])c0.Clone();
                var h = new float[rows * layer.OutputSize];
                kernel.Step(rows, xh, c, h);
                return h;
            }

            Assert.Equal(Step(new LstmLayerKernel(layer, managed, 256), out var c1), Step(new LstmLayerKernel(packed), out var c2));
            Assert.Equal(c1, c2);
        }
    }

    private sealed class RecordingBackend(IMatMulBackend inner, string? name = null) : IMatMulBackend
    {
        public string Name { get; } = name ?? inner.Name;
        public int LastRows { get; set; } = -1;
        public int PackCalls { get; private set; }

        public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns)
        {
            PackCalls++;
            return inner.Pack(b, rows, columns);
        }

        public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
        {
            LastRows = m;
            inner.Multiply(a, m, b, bias, c);
        }

        public override string ToString() => Name;
    }

    /// <summary>A backend whose multiply computes nothing and advances a simulated clock by a chosen time.</summary>
    private sealed class TimedBackend(string name, ManualClock clock, Func<int, TimeSpan> duration, List<string>? order = null) : IMatMulBackend
    {
        public string Name => name;

        public int Calls { get; private set; }

        public IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns) => new Shape(rows, columns);

        public void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c)
        {
            Calls++;
            order?.Add(name);
            clock.Advance(duration(m));
        }

        private sealed record Shape(int Rows, int Columns) : IPackedMatrix;
    }

    /// <summary>Time that moves only when told to (nanosecond ticks).</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public TimeSpan Now => TimeSpan.FromTicks(_ticks / 100);

        public override long TimestampFrequency => 1_000_000_000;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks * 100;
    }
}
