using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LstmStream.Pipeline.Models;

/// <summary>
/// A stacked LSTM (TensorFlow's MultiRNNCell) with an optional dense head: the one model type that
/// everything downstream of the importers works with.
/// </summary>
public sealed class LstmModel
{
    /// <summary>Stacks <paramref name="layers"/> (each layer's input size must be the previous one's output size) under an optional <paramref name="head"/>; <paramref name="source"/> says where it came from.</summary>
    public LstmModel(IReadOnlyList<LstmLayer> layers, DenseHead? head = null, string source = "")
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("a model needs at least one LSTM layer", nameof(layers));
        for (var k = 1; k < layers.Count; k++)
        {
            if (layers[k].InputSize != layers[k - 1].OutputSize)
                throw new ArgumentException(
                    $"layer {k} takes {layers[k].InputSize} inputs but layer {k - 1} outputs {layers[k - 1].OutputSize}", nameof(layers));
        }

        if (head is not null && head.InputSize != layers[^1].OutputSize)
            throw new ArgumentException(
                $"the head takes {head.InputSize} inputs but the top layer outputs {layers[^1].OutputSize}", nameof(head));
        Layers = layers.ToArray();
        Head = head;
        Source = source;
        Identity = ComputeIdentity();
    }

    /// <summary>The LSTM layers, bottom first.</summary>
    public IReadOnlyList<LstmLayer> Layers { get; }

    /// <summary>The dense head on the top layer's output, or null.</summary>
    public DenseHead? Head { get; }

    /// <summary>Where the model came from (file name and format), for logs and <c>inspect</c>.</summary>
    public string Source { get; }

    /// <summary>Values per input step (x).</summary>
    public int InputSize => Layers[0].InputSize;

    /// <summary>Values per output (the head's outputs, or the top layer's h).</summary>
    public int OutputSize => Head?.OutputSize ?? Layers[^1].OutputSize;

    /// <summary>Parameters of every layer and the head.</summary>
    public long ParameterCount => Layers.Sum(l => l.ParameterCount) + (Head?.ParameterCount ?? 0);

    /// <summary>
    /// A content hash of structure and weights (hex, 16 chars). Saved state carries it, so state is
    /// never put back into a different model.
    /// </summary>
    public string Identity { get; }

    private string ComputeIdentity()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var scratch = new byte[8];
        void Int(long v) { BinaryPrimitives.WriteInt64LittleEndian(scratch, v); hash.AppendData(scratch); }
        void Floats(float[]? v)
        {
            Int(v?.Length ?? -1);
            if (v is not null) hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
        }
        void OptionalFloat(float? v) => Int(v is null ? -1 : BitConverter.SingleToInt32Bits(v.Value));

        Int(Layers.Count);
        foreach (var l in Layers)
        {
            Int(l.InputSize); Int(l.CellSize); Int(l.OutputSize); Int(l.InputForget ? 1 : 0);
            OptionalFloat(l.CellClip); OptionalFloat(l.GateClip); OptionalFloat(l.ProjectionClip);
            Floats(l.Kernel); Floats(l.Bias); Floats(l.PeepholeInput); Floats(l.PeepholeForget); Floats(l.PeepholeOutput);
            Floats(l.Projection);
        }

        if (Head is { } h)
        {
            Int(h.InputSize); Int(h.OutputSize); Int((int)h.Activation); Floats(h.Weights); Floats(h.Bias);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 8));
    }
}
