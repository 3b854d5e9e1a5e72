namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// The backends chosen for one model: one per LSTM layer (it also packs that layer's projection) and one
/// for the dense head, each its own instance, plus one log line per choice.
/// </summary>
public sealed record ModelMatMulBackends(IReadOnlyList<IMatMulBackend> Layers, IMatMulBackend? Head, IReadOnlyList<string> Choices);
