namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>What <see cref="OnnxModelWriter"/> puts into the graph besides the LSTM chain and head.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// Adds a graph input <c>sequence_lens</c> (int32 <c>[batch]</c>) passed to every LSTM node, so rows of
    /// one batch can have different lengths. Without it every row runs the full sequence.
    /// </summary>
    public bool SequenceLengths { get; init; } = true;

    /// <summary>
    /// Adds, per layer k, graph inputs <c>initial_h_k</c> / <c>initial_c_k</c> (<c>[1, batch, hidden]</c>) and
    /// graph outputs <c>Y_h_k</c> / <c>Y_c_k</c>: the state is passed in and read back, as a runtime that
    /// steps many keys one step at a time needs.
    /// </summary>
    public bool StateInputsOutputs { get; init; }

    /// <summary>Written to the model's producer_name.</summary>
    public string ProducerName { get; init; } = "lstmstream";

    /// <summary>The graph's name.</summary>
    public string GraphName { get; init; } = "lstmstream";
}
