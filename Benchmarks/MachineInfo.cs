using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Serialization;
using LstmStream.Pipeline.Numerics.Selection;

namespace LstmStream.Benchmarks;

/// <summary>What the numbers were measured on.</summary>
internal sealed record MachineInfo
{
    [JsonPropertyName("cpu")] public required string Cpu { get; init; }
    [JsonPropertyName("cores")] public required int Cores { get; init; }
    [JsonPropertyName("dotnet")] public required string DotNet { get; init; }
    [JsonPropertyName("vector_bits")] public required int VectorBits { get; init; }
    [JsonPropertyName("backends")] public required IReadOnlyList<string> Backends { get; init; }
    [JsonPropertyName("onnxruntime")] public required string OnnxRuntime { get; init; }
    [JsonPropertyName("nice")] public required string Nice { get; init; }
    [JsonPropertyName("load_average_start")] public required string LoadAverageStart { get; init; }
    [JsonPropertyName("load_average_end")] public string LoadAverageEnd { get; set; } = "";
    [JsonPropertyName("started_utc")] public required DateTime StartedUtc { get; init; }

    public static MachineInfo Read() => new()
    {
        Cpu = CpuModel(),
        Cores = Environment.ProcessorCount,
        DotNet = RuntimeInformation.FrameworkDescription,
        VectorBits = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128,
        Backends = MatMulBackendRegistry.ProbeAll().Where(p => p.IsAvailable).Select(p => p.Name).ToArray(),
        OnnxRuntime = OrtSessions.Version,
        Nice = NiceValue(),
        LoadAverageStart = LoadAverage(),
        StartedUtc = DateTime.UtcNow,
    };

    /// <summary>The 1, 5 and 15 minute load averages (Linux), or "n/a".</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(" ", parts.Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    /// <summary>
    /// The process's nice value (Linux: field 19 of /proc/self/stat), or "n/a". Every row runs at it; a negative value
    /// (<c>nice -n -10</c>, as root) keeps other processes on a shared machine from preempting the measured threads.
    /// </summary>
    public static string NiceValue()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[16];
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    public override string ToString() =>
        $"Machine: {Cpu}, {Cores} cores, {DotNet}, Vector{VectorBits}, backends: {string.Join(", ", Backends)}, ONNX Runtime {OnnxRuntime}, nice {Nice}, load average {LoadAverageStart}";

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var colon and >= 0)
                    return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
