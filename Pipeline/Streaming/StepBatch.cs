using System.Buffers;

namespace LstmStream.Pipeline.Streaming;

/// <summary>
/// A micro-batch of steps of distinct keys: the element that travels between stages. Row r has
/// <c>Keys[r]</c>, <c>Seq[r]</c>, <c>Flags[r]</c>, an opaque <c>Tags[r]</c> (where the record came from:
/// input line, connection, …, carried untouched to the egress), <c>Slots[r]</c> (the key's state row,
/// set by the session stage; -1 before) and the vector <c>Data[r·Width .. (r+1)·Width)</c>.
/// <para>
/// Arrays are rented from <see cref="ArrayPool{T}.Shared"/>; exactly one holder owns a batch at a time
/// and the last one (the egress) calls <see cref="Release"/>. A stage that changes the row width
/// (every layer) keeps the row metadata and swaps the data buffer with <see cref="ReplaceData"/>.
/// </para>
/// <para>
/// A control batch (<see cref="IsControl"/>) has no rows: it carries a state request (export or import of
/// keys' state) through the stages in stream order, so it sees exactly the steps that entered before it.
/// Only the pipeline's own stages create and consume control batches; they never reach the egress.
/// </para>
/// </summary>
public sealed class StepBatch
{
    private StepBatch(int capacity, int width)
    {
        Capacity = capacity;
        Width = width;
        Keys = ArrayPool<string>.Shared.Rent(capacity);
        Seq = ArrayPool<long>.Shared.Rent(capacity);
        Flags = ArrayPool<StepFlags>.Shared.Rent(capacity);
        Tags = ArrayPool<long>.Shared.Rent(capacity);
        Slots = ArrayPool<int>.Shared.Rent(capacity);
        Data = ArrayPool<float>.Shared.Rent(Math.Max(1, capacity * width));
    }

    private StepBatch(StateRequest control)
    {
        Control = control;
        Keys = [];
        Seq = [];
        Flags = [];
        Tags = [];
        Slots = [];
        Data = [];
    }

    /// <summary>A control batch carrying <paramref name="request"/>.</summary>
    internal static StepBatch ForControl(StateRequest request) => new(request);

    /// <summary>The state request of a control batch; null for a data batch.</summary>
    internal StateRequest? Control { get; private set; }

    /// <summary>
    /// Keys' state moving between the arenas and the session store with this item (durable sessions), set by the
    /// session stage and handled by the layers before the item's own rows or request; null when nothing moves.
    /// </summary>
    internal SessionTransfer? Transfer { get; set; }

    /// <summary>True for a control batch (no rows; carries a state request between the pipeline's stages).</summary>
    public bool IsControl => Control is not null;

    /// <summary>A new empty batch for up to <paramref name="capacity"/> rows of <paramref name="width"/> floats.</summary>
    public static StepBatch Rent(int capacity, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        return new StepBatch(capacity, width);
    }

    /// <summary>Rows in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>The most rows the batch holds.</summary>
    public int Capacity { get; }

    /// <summary>Floats per row.</summary>
    public int Width { get; private set; }

    /// <summary>True when <see cref="Count"/> has reached <see cref="Capacity"/>.</summary>
    public bool IsFull => Count == Capacity;

    /// <summary>Each row's key (pooled: valid for the first <see cref="Count"/> entries).</summary>
    public string[] Keys { get; private set; }

    /// <summary>Each row's seq (meaningful with <see cref="StepFlags.HasSeq"/>).</summary>
    public long[] Seq { get; private set; }

    /// <summary>Each row's flags.</summary>
    public StepFlags[] Flags { get; private set; }

    /// <summary>Each row's opaque tag, carried untouched to the egress.</summary>
    public long[] Tags { get; private set; }

    /// <summary>Each row's state slot (set by the session stage; -1 before).</summary>
    public int[] Slots { get; private set; }

    /// <summary>The rows' vectors, row-major <c>[Count × Width]</c> (pooled: longer than that).</summary>
    public float[] Data { get; private set; }

    /// <summary>The vector of row <paramref name="row"/>.</summary>
    public Span<float> Row(int row) => Data.AsSpan(row * Width, Width);

    /// <summary>All rows' vectors, <c>[Count × Width]</c>.</summary>
    public Span<float> Rows => Data.AsSpan(0, Count * Width);

    /// <summary>Appends a row and returns its index; the caller fills <see cref="Row"/>.</summary>
    public int Add(string key, long seq, StepFlags flags, long tag)
    {
        if (Count == Capacity) throw new InvalidOperationException($"batch is full ({Capacity} rows)");
        var r = Count++;
        Keys[r] = key;
        Seq[r] = seq;
        Flags[r] = flags;
        Tags[r] = tag;
        Slots[r] = -1;
        return r;
    }

    /// <summary>
    /// Appends copies of every row of <paramref name="source"/> (key, seq, flags, tag, slot and vector), which must
    /// have this batch's width and fit in its free rows; <paramref name="source"/> is left as it was.
    /// </summary>
    internal void AddRows(StepBatch source)
    {
        if (source.Width != Width) throw new ArgumentException($"rows of width {source.Width} do not fit a batch of width {Width}", nameof(source));
        var n = source.Count;
        if (Count + n > Capacity) throw new InvalidOperationException($"{n} rows do not fit: {Count} of {Capacity} rows are taken");
        // Span copies: a typed memmove each (Array.Copy's per-call type checks cost more than a one-row batch's copy).
        source.Keys.AsSpan(0, n).CopyTo(Keys.AsSpan(Count));
        source.Seq.AsSpan(0, n).CopyTo(Seq.AsSpan(Count));
        source.Flags.AsSpan(0, n).CopyTo(Flags.AsSpan(Count));
        source.Tags.AsSpan(0, n).CopyTo(Tags.AsSpan(Count));
        source.Slots.AsSpan(0, n).CopyTo(Slots.AsSpan(Count));
        source.Rows.CopyTo(Data.AsSpan(Count * Width, n * Width));
        Count += n;
    }

    /// <summary>Drops the last row (a row whose vector turned out to be invalid while being filled).</summary>
    public void RemoveLast()
    {
        if (Count == 0) throw new InvalidOperationException("batch is empty");
        Keys[--Count] = null!;
    }

    /// <summary>Copies row <paramref name="from"/> (metadata and vector) over row <paramref name="to"/> (to &lt; from).</summary>
    internal void MoveRow(int from, int to)
    {
        Keys[to] = Keys[from];
        Seq[to] = Seq[from];
        Flags[to] = Flags[from];
        Tags[to] = Tags[from];
        Slots[to] = Slots[from];
        Data.AsSpan(from * Width, Width).CopyTo(Data.AsSpan(to * Width, Width));
    }

    /// <summary>Keeps the first <paramref name="count"/> rows only (rows moved elsewhere by the session stage).</summary>
    internal void Truncate(int count)
    {
        if ((uint)count > (uint)Count) throw new ArgumentOutOfRangeException(nameof(count), $"the batch has {Count} rows, not {count}");
        Array.Clear(Keys, count, Count - count);
        Count = count;
    }

    /// <summary>
    /// Gives the batch a new data buffer of <paramref name="width"/> floats per row (rented by the caller
    /// from <see cref="ArrayPool{T}.Shared"/>) and returns the old buffer to the pool.
    /// </summary>
    public void ReplaceData(float[] data, int width)
    {
        if (data.Length < Count * width) throw new ArgumentException($"buffer holds {data.Length} floats, {Count} rows × {width} needed", nameof(data));
        ArrayPool<float>.Shared.Return(Data);
        Data = data;
        Width = width;
    }

    /// <summary>Returns every array to the pool; the batch must not be used afterwards.</summary>
    public void Release()
    {
        if (Data is null) return;
        Transfer = null;
        if (Control is not null)
        {
            Control = null;
            Data = null!;
            return;
        }

        Keys.AsSpan(0, Count).Clear();
        ArrayPool<string>.Shared.Return(Keys);
        ArrayPool<long>.Shared.Return(Seq);
        ArrayPool<StepFlags>.Shared.Return(Flags);
        ArrayPool<long>.Shared.Return(Tags);
        ArrayPool<int>.Shared.Return(Slots);
        ArrayPool<float>.Shared.Return(Data);
        Keys = null!; Seq = null!; Flags = null!; Tags = null!; Slots = null!; Data = null!;
        Count = 0;
    }
}
