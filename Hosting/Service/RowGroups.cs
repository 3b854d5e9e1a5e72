using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Service;

/// <summary>
/// The rows of one batch grouped by a small non-negative number (cluster mode: the bucket a row is routed to, the node
/// its output goes back to), each group's rows in batch order, groups in the order they first appear. A counting sort
/// over arrays kept from batch to batch: no allocation once they are large enough. Not thread-safe: one per thread
/// (<see cref="ForThisThread"/>).
/// </summary>
internal sealed class RowGroups
{
    [ThreadStatic] private static RowGroups? t_instance;

    private int[] _groupOfRow = new int[64];
    private int[] _rows = new int[64];
    private int[] _sizeOf = new int[64];
    private int[] _startOf = new int[64];
    private int[] _groups = new int[64];
    private int _rowCount;
    private int _groupCount;

    /// <summary>This thread's instance (emptied by the next <see cref="Begin"/>).</summary>
    public static RowGroups ForThisThread => t_instance ??= new RowGroups();

    /// <summary>Groups in the last <see cref="End"/>.</summary>
    public int Count => _groupCount;

    /// <summary>Starts a grouping of <paramref name="rows"/> rows.</summary>
    public void Begin(int rows)
    {
        for (var g = 0; g < _groupCount; g++) _sizeOf[_groups[g]] = 0;
        _groupCount = 0;
        _rowCount = rows;
        if (rows > _groupOfRow.Length)
        {
            _groupOfRow = new int[Math.Max(rows, _groupOfRow.Length * 2)];
            _rows = new int[_groupOfRow.Length];
        }
    }

    /// <summary>Row <paramref name="row"/> (each of <c>0 .. rows-1</c> once, in order) belongs to group <paramref name="group"/>.</summary>
    public void Add(int row, int group)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        if (group >= _sizeOf.Length)
        {
            var size = Math.Max(group + 1, _sizeOf.Length * 2);
            Array.Resize(ref _sizeOf, size);
            Array.Resize(ref _startOf, size);
            Array.Resize(ref _groups, size);
        }

        _groupOfRow[row] = group;
        if (_sizeOf[group]++ == 0) _groups[_groupCount++] = group;
    }

    /// <summary>Ends the grouping: every row has been added.</summary>
    public void End()
    {
        var start = 0;
        for (var g = 0; g < _groupCount; g++)
        {
            var group = _groups[g];
            _startOf[group] = start;
            start += _sizeOf[group];
        }

        for (var row = 0; row < _rowCount; row++) _rows[_startOf[_groupOfRow[row]]++] = row;
        for (var g = 0; g < _groupCount; g++)
        {
            var group = _groups[g];
            _startOf[group] -= _sizeOf[group];
        }
    }

    /// <summary>The group of each row of the last grouping, by row.</summary>
    public ReadOnlySpan<int> GroupOfRows => _groupOfRow.AsSpan(0, _rowCount);

    /// <summary>The number of group <paramref name="index"/> (0 .. <see cref="Count"/>-1).</summary>
    public int Group(int index) => _groups[index];

    /// <summary>The rows of group <paramref name="index"/>, in batch order.</summary>
    public ReadOnlySpan<int> Rows(int index)
    {
        var group = _groups[index];
        return _rows.AsSpan(_startOf[group], _sizeOf[group]);
    }

    /// <summary>Copies <paramref name="rows"/> of <paramref name="batch"/> into new arrays (a message's, which leaves this node).</summary>
    public static (string[] Keys, long[] Seq, StepFlags[] Flags, long[] Tags, float[] Data) Copy(StepBatch batch, ReadOnlySpan<int> rows)
    {
        var n = rows.Length;
        var width = batch.Width;
        var keys = new string[n];
        var seq = new long[n];
        var flags = new StepFlags[n];
        var tags = new long[n];
        var data = new float[n * width];
        for (var i = 0; i < n; i++)
        {
            var r = rows[i];
            keys[i] = batch.Keys[r];
            seq[i] = batch.Seq[r];
            flags[i] = batch.Flags[r];
            tags[i] = batch.Tags[r];
            batch.Row(r).CopyTo(data.AsSpan(i * width, width));
        }

        return (keys, seq, flags, tags, data);
    }
}
