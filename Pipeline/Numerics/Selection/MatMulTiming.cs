namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>One autotuner measurement: the time of one multiply of <see cref="Rows"/> rows (the fastest repetition).</summary>
internal sealed record MatMulTiming(string Backend, int Rows, int K, int N, double SecondsPerCall)
{
    public double GigaflopsPerSecond => 2.0 * Rows * K * N / SecondsPerCall / 1e9;

    public override string ToString() => $"{Backend} rows {Rows}: {SecondsPerCall * 1e6:F1} µs ({GigaflopsPerSecond:F1} GFLOP/s)";
}
