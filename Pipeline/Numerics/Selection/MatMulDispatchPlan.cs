namespace LstmStream.Pipeline.Numerics.Selection;

/// <summary>
/// Which backend multiplies a call of a given row count: ascending, non-overlapping ranges that together
/// cover every row count (the last range is unbounded). Adjacent ranges with the same backend are merged.
/// </summary>
internal sealed class MatMulDispatchPlan
{
    private readonly MatMulDispatchRange[] _ranges;

    public MatMulDispatchPlan(IEnumerable<MatMulDispatchRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var merged = new List<MatMulDispatchRange>();
        var previous = 0;
        foreach (var range in ranges)
        {
            ArgumentNullException.ThrowIfNull(range.Backend, nameof(ranges));
            if (range.MaxRows <= previous)
                throw new ArgumentException($"dispatch ranges must ascend: a range ending at {range.MaxRows} rows follows one ending at {previous}", nameof(ranges));
            if (merged.Count > 0 && ReferenceEquals(merged[^1].Backend, range.Backend)) merged[^1] = range;
            else merged.Add(range);
            previous = range.MaxRows;
        }

        if (merged.Count == 0) throw new ArgumentException("a dispatch plan needs at least one range", nameof(ranges));
        if (previous != int.MaxValue)
            throw new ArgumentException($"the last dispatch range ends at {previous} rows; it must be unbounded (int.MaxValue)", nameof(ranges));
        _ranges = merged.ToArray();
    }

    /// <summary>A plan that sends every call to one backend.</summary>
    public static MatMulDispatchPlan Single(IMatMulBackend backend) => new([new MatMulDispatchRange(int.MaxValue, backend)]);

    public IReadOnlyList<MatMulDispatchRange> Ranges => _ranges;

    /// <summary>The distinct backends of the plan, in range order.</summary>
    public IReadOnlyList<IMatMulBackend> Backends => _ranges.Select(r => r.Backend).Distinct(ReferenceEqualityComparer.Instance).Cast<IMatMulBackend>().ToArray();

    /// <summary>The index of the range that handles <paramref name="rows"/> rows.</summary>
    public int RangeIndexFor(int rows)
    {
        var ranges = _ranges;
        for (var i = 0; i < ranges.Length - 1; i++)
        {
            if (rows <= ranges[i].MaxRows) return i;
        }

        return ranges.Length - 1;
    }

    /// <summary>The backend that handles <paramref name="rows"/> rows.</summary>
    public IMatMulBackend BackendFor(int rows) => _ranges[RangeIndexFor(rows)].Backend;

    /// <summary>For logs: e.g. <c>rows&lt;=16 managed, 16&lt;rows&lt;=512 openblas, rows&gt;512 onednn</c>.</summary>
    public override string ToString()
    {
        if (_ranges.Length == 1) return $"all rows {_ranges[0].Backend.Name}";
        var parts = new string[_ranges.Length];
        for (var i = 0; i < _ranges.Length; i++)
        {
            var name = _ranges[i].Backend.Name;
            parts[i] = i == 0 ? $"rows<={_ranges[i].MaxRows} {name}"
                : i == _ranges.Length - 1 ? $"rows>{_ranges[i - 1].MaxRows} {name}"
                : $"{_ranges[i - 1].MaxRows}<rows<={_ranges[i].MaxRows} {name}";
        }

        return string.Join(", ", parts);
    }
}
