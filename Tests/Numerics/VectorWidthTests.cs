using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>
/// The managed kernels take the widest vector width the runtime accelerates. `scripts/test.sh` runs the numerics,
/// golden and differential tests again with the runtime's ISA knobs narrowing that width and says which width it
/// expects in LSTMSTREAM_EXPECT_VECTOR_BITS; without it, the CPU's own widest width is expected. So a knob the
/// runtime stopped honouring cannot leave a path silently untested.
/// </summary>
public class VectorWidthTests
{
    [Fact]
    public void The_default_managed_backend_uses_the_width_this_run_expects()
    {
        var expected = ExpectedBits();
        var accelerated = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;
        Assert.Equal(expected, accelerated);
        using var backend = new ManagedMatMul();
        Assert.Equal(expected, backend.VectorBits);
    }

    private static int ExpectedBits()
    {
        var asked = Environment.GetEnvironmentVariable("LSTMSTREAM_EXPECT_VECTOR_BITS");
        if (!string.IsNullOrEmpty(asked))
            return int.Parse(asked, System.Globalization.CultureInfo.InvariantCulture);

        // The CPU's own flags (Linux): AVX-512 F+BW+CD+DQ+VL give 512 bits, AVX2 256, anything else 128.
        var flags = File.ReadLines("/proc/cpuinfo").First(line => line.StartsWith("flags", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        if (new[] { "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl" }.All(flags.Contains)) return 512;
        return flags.Contains("avx2") ? 256 : 128;
    }
}
