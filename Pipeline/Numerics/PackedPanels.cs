using System.Runtime.CompilerServices;

namespace LstmStream.Pipeline.Numerics;

/// <summary>
/// B packed for <see cref="ManagedMatMul"/>: the columns cut into panels of <see cref="PanelVectors"/>
/// hardware vectors (the last panel only as many vectors as the remaining columns need, zero-padded to
/// whole vectors); inside a panel the values are K-major, so the micro-kernel reads one contiguous run
/// of <c>width</c> floats per k. Panels follow each other; storage is 64-byte aligned and pinned. A B of at most
/// <see cref="NarrowColumnsKernel.MaxColumns"/> columns is also kept column-major (<see cref="ColumnData"/>).
/// </summary>
internal sealed unsafe class PackedPanels : IPackedMatrix
{
    private readonly float[] _storage;
    private readonly int _offset;
    private readonly float[]? _columns;
    private readonly int _columnsOffset;

    public PackedPanels(ReadOnlySpan<float> b, int rows, int columns, int lanes, int panelVectors)
    {
        Rows = rows;
        Columns = columns;
        Lanes = lanes;
        PanelVectors = panelVectors;
        FullPanelWidth = lanes * panelVectors;
        PanelCount = (columns + FullPanelWidth - 1) / FullPanelWidth;
        int lastColumns = columns - (PanelCount - 1) * FullPanelWidth;
        LastPanelVectors = (lastColumns + lanes - 1) / lanes;
        long total = (long)rows * ((PanelCount - 1) * FullPanelWidth + LastPanelVectors * lanes);
        if (total > int.MaxValue - 64) throw new ArgumentException($"B [{rows} × {columns}] is too large to pack");

        _storage = GC.AllocateArray<float>((int)total + 16, pinned: true);
        var address = (nint)Unsafe.AsPointer(ref _storage[0]);
        _offset = (int)((64 - (address & 63)) & 63) / sizeof(float);

        var data = _storage.AsSpan(_offset, (int)total);
        for (var p = 0; p < PanelCount; p++)
        {
            int col0 = p * FullPanelWidth, width = PanelWidth(p), valid = Math.Min(width, columns - col0);
            var panel = data.Slice(p * rows * FullPanelWidth, rows * width);
            for (var k = 0; k < rows; k++)
            {
                b.Slice(k * columns + col0, valid).CopyTo(panel.Slice(k * width, valid));
            }
        }

        if (columns <= NarrowColumnsKernel.MaxColumns)
        {
            // Column-major as well, K zero-padded to whole runs of partials: the dot-product kernel's layout.
            ColumnStride = (rows + NarrowColumnsKernel.Partials - 1) / NarrowColumnsKernel.Partials * NarrowColumnsKernel.Partials;
            _columns = GC.AllocateArray<float>(columns * ColumnStride + 16, pinned: true);
            var at = (nint)Unsafe.AsPointer(ref _columns[0]);
            _columnsOffset = (int)((64 - (at & 63)) & 63) / sizeof(float);
            for (var j = 0; j < columns; j++)
            for (var k = 0; k < rows; k++)
                _columns[_columnsOffset + j * ColumnStride + k] = b[k * columns + j];
        }
    }

    /// <summary>
    /// For B of at most <see cref="NarrowColumnsKernel.MaxColumns"/> columns, B column-major (column j's K values
    /// from <c>j · ColumnStride</c>, zero-padded), for <see cref="NarrowColumnsKernel"/>; null otherwise.
    /// </summary>
    public float* ColumnData => _columns is null ? null : (float*)Unsafe.AsPointer(ref _columns[_columnsOffset]);

    /// <summary>Floats from one column to the next in <see cref="ColumnData"/> (K rounded up to 16).</summary>
    public int ColumnStride { get; }

    public int Rows { get; }
    public int Columns { get; }

    /// <summary>Floats per hardware vector this packing was made for.</summary>
    public int Lanes { get; }

    /// <summary>Vectors per full panel.</summary>
    public int PanelVectors { get; }

    public int FullPanelWidth { get; }
    public int PanelCount { get; }
    public int LastPanelVectors { get; }

    /// <summary>Start of the packed values (pinned for the object's lifetime).</summary>
    public float* Data => (float*)Unsafe.AsPointer(ref _storage[_offset]);

    public int PanelVectorCount(int panel) => panel == PanelCount - 1 ? LastPanelVectors : PanelVectors;

    public int PanelWidth(int panel) => PanelVectorCount(panel) * Lanes;

    /// <summary>Offset of a panel's first value (k = 0) from <see cref="Data"/>.</summary>
    public long PanelOffset(int panel) => (long)panel * Rows * FullPanelWidth;

    /// <summary>Keeps the pinned storage reachable while raw pointers into it are in use.</summary>
    public void KeepAlive()
    {
        GC.KeepAlive(_storage);
        GC.KeepAlive(_columns);
    }
}
