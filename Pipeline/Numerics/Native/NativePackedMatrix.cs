using System.Runtime.CompilerServices;

namespace LstmStream.Pipeline.Numerics.Native;

/// <summary>
/// B for the native backends: a row-major copy (row stride <see cref="IPackedMatrix.Columns"/>) in a
/// pinned array whose first value is 64-byte aligned, so its address never changes and can be handed to
/// native code without pinning per call. The memory belongs to the garbage collector (pinned object heap),
/// so nothing needs disposing. Immutable after construction, so any number of threads may read it.
/// </summary>
internal sealed unsafe class NativePackedMatrix : IPackedMatrix
{
    private const int AlignmentBytes = 64;
    private const int AlignmentFloats = AlignmentBytes / sizeof(float);

    // Kept only so the pinned array stays reachable as long as this matrix is.
    private readonly float[] _storage;

    internal NativePackedMatrix(IMatMulBackend owner, ReadOnlySpan<float> b, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if ((long)rows * columns > int.MaxValue - AlignmentFloats)
            throw new ArgumentException($"B of {rows} × {columns} is too large for one packed matrix", nameof(b));
        if (b.Length != rows * columns)
            throw new ArgumentException($"B has {b.Length} values, expected {rows} × {columns}", nameof(b));

        Owner = owner;
        Rows = rows;
        Columns = columns;
        _storage = GC.AllocateUninitializedArray<float>(rows * columns + AlignmentFloats, pinned: true);
        var address = (nint)Unsafe.AsPointer(ref _storage[0]);
        var skip = (int)((AlignmentBytes - (address & (AlignmentBytes - 1))) & (AlignmentBytes - 1)) / sizeof(float);
        Pointer = (float*)address + skip;
        b.CopyTo(new Span<float>(Pointer, rows * columns));
    }

    /// <summary>The backend that packed this matrix; multiplying with another is refused.</summary>
    internal IMatMulBackend Owner { get; }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>The first value of B, 64-byte aligned; valid as long as this object is reachable.</summary>
    internal float* Pointer { get; }
}
