using LstmStream.Pipeline.Numerics;

namespace LstmStream.Benchmarks;

/// <summary>
/// <c>ceiling</c>: the matrix multiplies of one round alone (each layer's <c>[keys × K] · [K × N] + b</c>,
/// then the head's), timed with every backend present; per matrix the fastest backend counts, and the
/// ceiling's time per round is the sum of those best times. No activations, no copies: the limit a
/// stepping engine with these backends can approach.
/// </summary>
internal static class Ceiling
{
    public sealed record Result(double SecondsPerStep, string Backend, IReadOnlyList<string> Details, double AllocatedBytesPerStep, long CallsTimed,
        IReadOnlyList<CeilingMatrix> Matrices);

    public static Result Measure(Workload workload, int keys, int threads, IReadOnlyList<IMatMulBackend> backends, MeasureSettings settings)
    {
        var random = new Random(99);
        double secondsPerRound = 0, allocatedPerRound = 0;
        long calls = 0;
        var winners = new List<string>();
        var details = new List<string>();
        var matrices = new List<CeilingMatrix>();
        foreach (var gemm in workload.Gemms)
        {
            var b = RandomValues(random, gemm.K * gemm.N);
            var bias = RandomValues(random, gemm.N);
            var a = RandomValues(random, keys * gemm.K);
            var c = new float[keys * gemm.N];
            var best = double.MaxValue;
            var bestAllocated = 0.0;
            var winner = "";
            var timings = new List<string>();
            var microseconds = new Dictionary<string, double>();
            foreach (var backend in backends)
            {
                var packed = backend.Pack(b, gemm.K, gemm.N);
                var m = Benchmarks.Measure.Run(calls =>
                {
                    for (var i = 0; i < calls; i++) backend.Multiply(a, keys, packed, bias, c);
                    return calls;
                }, settings, allThreads: true);
                timings.Add($"{backend.Name} {m.SecondsPerStep * 1e6:0.##} µs");
                microseconds[backend.Name] = m.SecondsPerStep * 1e6;
                calls += m.StepsTimed;
                if (m.SecondsPerStep < best)
                {
                    best = m.SecondsPerStep;
                    bestAllocated = m.AllocatedBytesPerStep;
                    winner = backend.Name;
                }
            }

            secondsPerRound += best;
            allocatedPerRound += bestAllocated;
            winners.Add(winner);
            details.Add($"{gemm.Label} [{keys}x{gemm.K}]·[{gemm.K}x{gemm.N}]: {string.Join(", ", timings)}");
            matrices.Add(new CeilingMatrix
            {
                Workload = workload.Name, Keys = keys, Threads = threads, Matrix = gemm.Label, K = gemm.K, N = gemm.N,
                Winner = winner, MicrosecondsPerMultiply = microseconds,
            });
        }

        var label = winners.Distinct().Count() == 1 ? winners[0] : string.Join("+", winners);
        return new Result(secondsPerRound / keys, label, details, allocatedPerRound / keys, calls, matrices);
    }

    private static float[] RandomValues(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
