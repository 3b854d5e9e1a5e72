namespace LstmStream.Tests.Models.Onnx;

/// <summary>The per-element pass rule <c>|actual − expected| ≤ abs + rel·|expected|</c>, tracking the worst case.</summary>
internal sealed class Tolerance(double abs, double rel)
{
    public double Abs { get; } = abs;
    public double Rel { get; } = rel;
    public double MaxAbsError { get; private set; }
    public string? FirstFailure { get; private set; }
    public int Failures { get; private set; }
    public long Compared { get; private set; }

    public void Check(double actual, double expected, Func<string> where)
    {
        Compared++;
        double err = Math.Abs(actual - expected);
        if (double.IsNaN(actual) || double.IsNaN(err)) err = double.PositiveInfinity;
        if (err > MaxAbsError) MaxAbsError = err;
        if (err <= Abs + Rel * Math.Abs(expected)) return;
        Failures++;
        FirstFailure ??= $"{where()}: actual {actual:R}, expected {expected:R}, error {err:E3} > {Abs} + {Rel}·|expected|";
    }

    public void AssertPassed(string what)
    {
        Assert.True(Compared > 0, $"{what}: nothing was compared");
        Assert.True(Failures == 0, $"{what}: {Failures} of {Compared} values out of tolerance (max abs error {MaxAbsError:E3}); first: {FirstFailure}");
    }
}
