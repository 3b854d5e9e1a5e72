namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// What a backend offers a layer step beyond <see cref="IMatMulBackend.Multiply"/>, for the row counts it is asked
/// about (<see cref="IMatMulBackend.CapabilityFor"/>): how many threads a step may split over, the vector width of
/// its kernel, and whether the step may fuse the multiply with the cell update tile by tile
/// (<see cref="FusedLayerStep"/>, on the managed kernel's tiles and worker threads). <see cref="LstmLayerKernel"/>
/// asks for this instead of knowing the backends' types. Immutable.
/// </summary>
public sealed class MatMulCapability
{
    /// <summary>A backend that only multiplies: nothing to fuse with, its threads and vectors its own business (the native libraries).</summary>
    public static MatMulCapability MultiplyOnly { get; } = new(1, 0, null);

    /// <param name="threads">Threads a step may split over.</param>
    /// <param name="vectorBits">The kernel's vector width, or 0 when the backend does not say.</param>
    /// <param name="fusedStepBackend">The managed backend whose tiles and workers run a fused step, or null.</param>
    internal MatMulCapability(int threads, int vectorBits, ManagedMatMul? fusedStepBackend)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        Threads = threads;
        VectorBits = vectorBits;
        FusedStepBackend = fusedStepBackend;
    }

    /// <summary>Threads a layer step may split over (the caller's included).</summary>
    public int Threads { get; }

    /// <summary>Width in bits of the vectors the kernel computes with (512, 256, 128), or 0 when the backend does not say.</summary>
    public int VectorBits { get; }

    /// <summary>Whether a layer step may fuse its multiply with the cell update (<see cref="FusedLayerStep"/>) at <see cref="VectorBits"/>.</summary>
    public bool HasFusedStep => FusedStepBackend is not null;

    /// <summary>The managed backend that runs a fused step: its tiles, and its workers for the step's parts.</summary>
    internal ManagedMatMul? FusedStepBackend { get; }

    /// <summary>What the capability offers, for logs: the fused step's vector width and threads, or "multiply only".</summary>
    public override string ToString() =>
        HasFusedStep ? $"fused step, {VectorBits}-bit vectors, {Threads} thread{(Threads == 1 ? "" : "s")}" : "multiply only";
}
