using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace LstmStream.Benchmarks;

/// <summary>
/// ONNX Runtime sessions tuned for stepping: the model exported by our own writer with per-layer state
/// inputs and outputs (no sequence lengths: every row runs the one step), all graph optimizations
/// (weights pre-packed), sequential execution, intra-op threads = the benchmark's thread count, one
/// inter-op thread, and intra-op spinning on or off.
/// </summary>
internal static class OrtSessions
{
    /// <summary>The ONNX bytes every ONNX Runtime row of <paramref name="model"/> runs.</summary>
    public static byte[] Export(LstmModel model) =>
        OnnxModelWriter.ToBytes(model, new OnnxExportOptions { SequenceLengths = false, StateInputsOutputs = true });

    public static InferenceSession Create(byte[] onnx, int threads, bool spinning)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning ? "1" : "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", spinning ? "1" : "0");
        return new InferenceSession(onnx, options);
    }

    public static string Version => OrtEnv.Instance().GetVersionString();
}
