using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Tests.Numerics.Native;

/// <summary>
/// Which native backends this test run requires, from <c>LSTMSTREAM_REQUIRE_NATIVE</c>: <c>1</c> (or
/// <c>true</c>) means all three, openblas, onednn and mkl (what scripts/test.sh installs: MKL from Debian's
/// non-free component); a comma-separated list names them (e.g. <c>openblas,onednn</c>). A required backend is never skipped:
/// its tests run and fail when the library is missing. Without the variable a missing backend's tests are
/// skipped, with the loader's reason as the skip message.
/// </summary>
internal static class NativeBackendRequirement
{
    public const string Variable = "LSTMSTREAM_REQUIRE_NATIVE";

    public static IReadOnlyList<string> Required { get; } = Parse(Environment.GetEnvironmentVariable(Variable));

    public static bool IsRequired(string backend) => Required.Contains(backend);

    /// <summary>Null when tests of <paramref name="backend"/> should run; otherwise why they are skipped.</summary>
    public static string? SkipReason(string backend)
    {
        if (IsRequired(backend)) return null;
        var probe = MatMulBackendRegistry.Probe(backend);
        return probe.IsAvailable ? null : $"{probe} (requiring it through {Variable} makes its absence fail the run)";
    }

    private static string[] Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Trim() == "0" || value.Trim().Equals("false", StringComparison.OrdinalIgnoreCase)) return [];
        if (value.Trim() == "1" || value.Trim().Equals("true", StringComparison.OrdinalIgnoreCase))
            return [MatMulBackendRegistry.OpenBlas, MatMulBackendRegistry.OneDnn, MatMulBackendRegistry.Mkl];
        return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(MatMulBackendRegistry.Normalize)
            .ToArray();
    }
}
