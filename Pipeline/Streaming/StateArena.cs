namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// One layer's recurrent state for every slot: contiguous blocks of c rows (<see cref="CellSize"/> wide)
/// and h rows (<see cref="OutputSize"/> wide), row <c>s</c> belonging to slot <c>s</c>. Grows by doubling,
/// keeping existing rows, but never past <see cref="MaxRows"/> (the pipeline's live-key bound). Rows of free slots hold stale values; a new key's first step is flagged
/// <see cref="StepFlags.Reset"/>, so they are never read.
/// </summary>
internal sealed class StateArena
{
    private float[] _c;
    private float[] _h;

    /// <param name="cellSize">Floats per c row.</param>
    /// <param name="outputSize">Floats per h row.</param>
    /// <param name="initialRows">Rows to start with (at most <paramref name="maxRows"/>).</param>
    /// <param name="maxRows">Most rows the arena may ever hold.</param>
    public StateArena(int cellSize, int outputSize, int initialRows = 64, int maxRows = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cellSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        CellSize = cellSize;
        OutputSize = outputSize;
        MaxRows = maxRows;
        initialRows = Math.Min(initialRows, maxRows);
        Rows = initialRows;
        _c = new float[initialRows * cellSize];
        _h = new float[initialRows * outputSize];
    }

    public int CellSize { get; }
    public int OutputSize { get; }

    /// <summary>Most rows this arena may grow to.</summary>
    public int MaxRows { get; }

    /// <summary>Slots that have room now.</summary>
    public int Rows { get; private set; }

    /// <summary>Bytes held by the two blocks.</summary>
    public long Bytes => ((long)_c.Length + _h.Length) * sizeof(float);

    public Span<float> C(int slot) => _c.AsSpan(slot * CellSize, CellSize);

    /// <summary>The c rows of every slot (<see cref="Rows"/> × <see cref="CellSize"/>), slot s at s × CellSize.</summary>
    public Span<float> AllC => _c.AsSpan(0, Rows * CellSize);

    public Span<float> H(int slot) => _h.AsSpan(slot * OutputSize, OutputSize);

    /// <summary>The h rows of every slot (<see cref="Rows"/> × <see cref="OutputSize"/>), slot s at s × OutputSize.</summary>
    public Span<float> AllH => _h.AsSpan(0, Rows * OutputSize);

    /// <summary>
    /// Makes room for slots <c>0 .. rows-1</c>, doubling the capacity as often as needed but not past
    /// <see cref="MaxRows"/>; asking for more than <see cref="MaxRows"/> is an error.
    /// </summary>
    public void EnsureRows(int rows)
    {
        if (rows <= Rows) return;
        if (rows > MaxRows)
            throw new InvalidOperationException($"state arena cannot hold slot {rows - 1}: it is bounded to {MaxRows} slots");
        var newRows = Rows;
        while (newRows < rows) newRows = newRows > MaxRows / 2 ? MaxRows : newRows * 2;
        if ((long)newRows * Math.Max(CellSize, OutputSize) > Array.MaxLength)
            throw new InvalidOperationException($"state arena cannot grow to {newRows} slots of {CellSize} + {OutputSize} floats");
        Array.Resize(ref _c, newRows * CellSize);
        Array.Resize(ref _h, newRows * OutputSize);
        Rows = newRows;
    }
}
