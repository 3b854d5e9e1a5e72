using System.Diagnostics;
using System.Text;

namespace LstmStream.Benchmarks;

/// <summary>Progress lines on standard error, each prefixed with the seconds since the benchmark started.</summary>
internal sealed class ProgressWriter(TextWriter inner) : TextWriter
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public override Encoding Encoding => inner.Encoding;

    public override void WriteLine(string? value) => inner.WriteLine($"{_clock.Elapsed.TotalSeconds,7:F1}s {value}");

    public override void Write(char value) => inner.Write(value);

    public override void Flush() => inner.Flush();
}
