namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// "gates = [x | h] · W + b" on a batch of rows: a matrix multiply with a constant, pre-packed right
/// operand. Implementations are not required to be thread-safe for concurrent calls on one packed
/// matrix unless they say so; an instance may keep scratch space.
/// </summary>
public interface IMatMulBackend
{
    /// <summary>Short name used in configuration, logs and benchmark tables (managed, openblas, …).</summary>
    string Name { get; }

    /// <summary>Packs row-major <paramref name="b"/> of shape <c>[rows × columns]</c>.</summary>
    IPackedMatrix Pack(ReadOnlySpan<float> b, int rows, int columns);

    /// <summary>
    /// <c>c[m × N] = a[m × K] · B + bias</c>, all row-major and dense (row strides K and N).
    /// <paramref name="bias"/> is empty (no bias) or has N values added to every row.
    /// </summary>
    void Multiply(ReadOnlySpan<float> a, int m, IPackedMatrix b, ReadOnlySpan<float> bias, Span<float> c);

    /// <summary>
    /// What this backend offers a layer step of <paramref name="rows"/> rows beyond <see cref="Multiply"/>: threads,
    /// vector width, whether the step may fuse multiply and cell update. Called per step: must not allocate.
    /// </summary>
    MatMulCapability CapabilityFor(int rows) => MatMulCapability.MultiplyOnly;

    /// <summary>Every capability <see cref="CapabilityFor"/> returns for some row count, each once (a tuned backend: those of its plan's backends).</summary>
    IReadOnlyList<MatMulCapability> Capabilities => [CapabilityFor(1)];
}
