using System.Runtime.Intrinsics;
using LstmStream.Pipeline.Models;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// An LSTM layer made ready for stepping on one backend, once: its gate kernel and projection packed by the backend,
/// the gate columns regrouped for the fused step (<see cref="GateBlockPanels"/>) when the backend offers one
/// (<see cref="IMatMulBackend.Capabilities"/>) at the update's vector width, the peepholes laid out for the update.
/// Immutable: any number of <see cref="LstmLayerKernel"/>s step on one instance at once (each keeps its own scratch
/// space), so a pipeline blueprint packs each layer once however often it is materialized.
/// </summary>
internal sealed class PackedLstmLayer
{
    public PackedLstmLayer(LstmLayer layer, IMatMulBackend backend) : this(layer, backend, 0)
    {
    }

    /// <summary><paramref name="vectorBits"/>: 512, 256 or 128 to force the vector width of the cell update (tests), 0 for the widest accelerated one.</summary>
    internal PackedLstmLayer(LstmLayer layer, IMatMulBackend backend, int vectorBits)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(backend);
        Layer = layer;
        Backend = backend;
        if (layer.Projection is { } proj) Projection = backend.Pack(proj, layer.CellSize, layer.OutputSize);
        if (vectorBits == 0) vectorBits = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;
        Lanes = vectorBits switch
        {
            512 => 16,
            256 => 8,
            128 => 4,
            _ => throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vector width must be 512, 256 or 128 bits"),
        };
        VectorBits = vectorBits;
        Options = new CellOptions(layer.HasPeepholes, layer.GateClip, layer.CellClip, layer.InputForget);

        int cells = layer.CellSize;
        IsFlat = cells < Lanes;
        if (IsFlat)
        {
            // The unit pattern's period, repeated to at least MinFlatChunk values: one update call per chunk, so its
            // fixed cost (the masked last vector, the call) is spread over dozens of vectors, not over one or a few.
            int period = cells * Lanes / Gcd(cells, Lanes);
            FlatChunk = period * ((MinFlatChunk + period - 1) / period);
        }

        PeepholeInput = Peephole(layer.PeepholeInput);
        PeepholeForget = Peephole(layer.PeepholeForget);
        PeepholeOutput = Peephole(layer.PeepholeOutput);

        // The fused step needs the backend to offer it at the update's vector width, and a cell at least a vector wide.
        var capabilities = backend.Capabilities;
        if (!IsFlat && layer.ConcatSize <= FusedLayerStep.MaxConcatSize && capabilities.Any(Fuses))
        {
            FusedPanels = new GateBlockPanels(layer, Lanes);
        }

        // The whole-batch multiply is needed unless every row count goes to the fused step.
        if (FusedPanels is null || !capabilities.All(Fuses))
        {
            Kernel = backend.Pack(layer.Kernel, layer.ConcatSize, layer.GateWidth);
        }

        // A layer that never runs fused (cells narrower than a vector, a very long K) is split by rows over the threads
        // of a managed backend the backend offers: each thread multiplies and updates its own rows.
        if (FusedPanels is null && capabilities.FirstOrDefault(c => c is { Threads: > 1, FusedStepBackend: not null }) is { } threaded)
        {
            RowSplitBackend = threaded.FusedStepBackend;
            RowSplitKernel = ReferenceEquals(backend, RowSplitBackend) ? Kernel : RowSplitBackend!.Pack(layer.Kernel, layer.ConcatSize, layer.GateWidth);
        }
    }

    public LstmLayer Layer { get; }

    public IMatMulBackend Backend { get; }

    /// <summary>Width in bits of the vectors of the cell update (and of the fused step).</summary>
    public int VectorBits { get; }

    /// <summary>Whether a step of <paramref name="rows"/> rows runs fused (multiply and update tile by tile).</summary>
    public bool IsFusedFor(int rows) => FusedBackendFor(rows) is not null;

    /// <summary>The managed backend that runs a fused step of <paramref name="rows"/> rows, or null when that step is not fused.</summary>
    internal ManagedMatMul? FusedBackendFor(int rows)
    {
        if (FusedPanels is null) return null;
        var capability = Backend.CapabilityFor(rows);
        return Fuses(capability) ? capability.FusedStepBackend : null;
    }

    /// <summary>Floats per vector of the cell update.</summary>
    internal int Lanes { get; }

    internal CellOptions Options { get; }

    /// <summary>The gate kernel packed for the whole-batch multiply; null when every row count runs fused.</summary>
    internal IPackedMatrix? Kernel { get; }

    /// <summary>The gate columns regrouped for the fused step; null when the backend never fuses this layer.</summary>
    internal GateBlockPanels? FusedPanels { get; }

    internal IPackedMatrix? Projection { get; }

    /// <summary>The managed backend with several threads whose rows an unfused step may be split over (<see cref="RowSplitBackendFor"/>), or null.</summary>
    internal ManagedMatMul? RowSplitBackend { get; }

    /// <summary>The gate kernel packed by <see cref="RowSplitBackend"/>; null when there is none.</summary>
    internal IPackedMatrix? RowSplitKernel { get; }

    /// <summary>
    /// The managed backend an unfused step of <paramref name="rows"/> rows is split over by rows, or null: when the
    /// backend sends that row count to <see cref="RowSplitBackend"/> (an <c>auto</c> plan does so only from the row
    /// count where its split was measured to pay).
    /// </summary>
    internal ManagedMatMul? RowSplitBackendFor(int rows) =>
        RowSplitBackend is { } split && ReferenceEquals(Backend.CapabilityFor(rows).FusedStepBackend, split) ? split : null;

    /// <summary>Fewest values of a flat update chunk (<see cref="FlatChunk"/>).</summary>
    internal const int MinFlatChunk = 256;

    /// <summary>
    /// When the cell is narrower than a vector the update runs over the whole batch as one flat array:
    /// the gates are first regrouped gate-major, and the peepholes are tiled to <see cref="FlatChunk"/> values, a
    /// multiple of lcm(CellSize, lanes) (the period after which the unit pattern repeats at a vector boundary) of at
    /// least <see cref="MinFlatChunk"/>; the update runs chunk by chunk.
    /// </summary>
    internal bool IsFlat { get; }

    internal int FlatChunk { get; }

    /// <summary>The peephole diagonals laid out for the update: as is, or tiled to the flat chunk; <c>[0]</c> when there are none.</summary>
    internal float[] PeepholeInput { get; }

    internal float[] PeepholeForget { get; }

    internal float[] PeepholeOutput { get; }

    private bool Fuses(MatMulCapability capability) => capability.HasFusedStep && capability.VectorBits == VectorBits;

    private float[] Peephole(float[]? diagonal)
    {
        if (diagonal is null) return [0f];
        if (!IsFlat) return diagonal;
        var tiled = new float[FlatChunk];
        for (var t = 0; t < tiled.Length; t++) tiled[t] = diagonal[t % diagonal.Length];
        return tiled;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
