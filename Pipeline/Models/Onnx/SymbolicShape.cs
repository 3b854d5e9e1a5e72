namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>What one axis of a tensor on the LSTM chain stands for.</summary>
internal enum AxisRole
{
    /// <summary>Time steps.</summary>
    Seq,

    /// <summary>Independent sequences.</summary>
    Batch,

    /// <summary>The LSTM's num_directions axis (always 1 here).</summary>
    Direction,

    /// <summary>An inserted axis of size 1.</summary>
    One,

    /// <summary>A feature axis of known size.</summary>
    Feature,

    /// <summary>Time and batch flattened into one axis (before a Gemm head, for instance).</summary>
    Rows,
}

internal readonly record struct SymbolicAxis(AxisRole Role, int Size = 0)
{
    public bool IsUnit => Role is AxisRole.Direction or AxisRole.One;
    public bool IsRowLike => Role is AxisRole.Seq or AxisRole.Batch or AxisRole.Rows;

    public override string ToString() => Role switch
    {
        AxisRole.Feature => Size.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AxisRole.Seq => "seq",
        AxisRole.Batch => "batch",
        AxisRole.Direction => "num_directions",
        AxisRole.One => "1",
        _ => "rows",
    };
}

/// <summary>
/// The shape of a tensor on the LSTM chain with every axis labelled by its role, carried through the
/// shape operators exporters put between layers (Squeeze, Unsqueeze, Reshape, Transpose, Flatten), so
/// that the importer can prove each LSTM sees <c>[seq, batch, features]</c> and that no operator mixes
/// features with time or batch.
/// </summary>
internal sealed class SymbolicShape
{
    public SymbolicShape(IEnumerable<SymbolicAxis> axes) => Axes = axes.ToArray();

    public SymbolicAxis[] Axes { get; }
    public int Rank => Axes.Length;

    public override string ToString() => "[" + string.Join(", ", Axes) + "]";

    /// <summary>True when the last axis is the only feature axis and has <paramref name="size"/> values.</summary>
    public bool EndsWithFeatures(int size) =>
        Rank > 0 && Axes[^1] == new SymbolicAxis(AxisRole.Feature, size) && Axes[..^1].All(a => a.IsUnit || a.IsRowLike);

    public SymbolicShape WithLastAxis(SymbolicAxis axis)
    {
        var a = (SymbolicAxis[])Axes.Clone();
        a[^1] = axis;
        return new SymbolicShape(a);
    }

    public SymbolicShape Transpose(long[]? perm, string where)
    {
        perm ??= Enumerable.Range(0, Rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != Rank || perm.Distinct().Count() != Rank || perm.Any(p => p < 0 || p >= Rank))
            throw new ModelFormatException($"{where}: perm [{string.Join(",", perm)}] is not a permutation of the {Rank} axes of {this}");
        return new SymbolicShape(perm.Select(p => Axes[p]));
    }

    public SymbolicShape Squeeze(long[]? axes, string where)
    {
        if (axes is null)
        {
            if (Axes.Any(a => a == new SymbolicAxis(AxisRole.Feature, 1)))
                throw new ModelFormatException($"{where}: Squeeze without axes on {this} would also remove a feature axis of size 1");
            return new SymbolicShape(Axes.Where(a => !a.IsUnit));
        }

        var normalized = Normalize(axes, Rank, where);
        foreach (var ax in normalized)
        {
            if (!Axes[ax].IsUnit)
                throw new ModelFormatException($"{where}: Squeeze of axis {ax} of {this}, which is not an axis of size 1");
        }

        return new SymbolicShape(Axes.Where((_, i) => !normalized.Contains(i)));
    }

    public SymbolicShape Unsqueeze(long[] axes, string where)
    {
        int outRank = Rank + axes.Length;
        var normalized = Normalize(axes, outRank, where);
        var result = new List<SymbolicAxis>(outRank);
        int next = 0;
        for (var i = 0; i < outRank; i++) result.Add(normalized.Contains(i) ? new SymbolicAxis(AxisRole.One, 1) : Axes[next++]);
        return new SymbolicShape(result);
    }

    public SymbolicShape Flatten(long axis, string where)
    {
        int a = (int)(axis < 0 ? axis + Rank : axis);
        if (a < 0 || a > Rank) throw new ModelFormatException($"{where}: axis {axis} is outside the {Rank} axes of {this}");
        return new SymbolicShape([Merge(Axes[..a], where), Merge(Axes[a..], where)]);
    }

    /// <summary>Reshape to <paramref name="shape"/> (ONNX rules: 0 copies an axis unless allowzero, −1 is inferred).</summary>
    public SymbolicShape Reshape(long[] shape, bool allowZero, string where)
    {
        if (shape.Count(s => s == -1) > 1) throw new ModelFormatException($"{where}: shape [{string.Join(",", shape)}] has more than one -1");
        var input = Axes.Where(a => !a.IsUnit).ToArray();
        var result = new SymbolicAxis[shape.Length];
        int inferAt = -1;
        var fixedEntries = new List<(int Index, SymbolicAxis? Copy, long Size)>();
        for (var i = 0; i < shape.Length; i++)
        {
            long s = shape[i];
            if (s == 0 && !allowZero)
            {
                if (i >= Rank) throw new ModelFormatException($"{where}: shape [{string.Join(",", shape)}] copies axis {i} of {this}, which does not exist");
                fixedEntries.Add((i, Axes[i], 0));
            }
            else if (s == -1) inferAt = i;
            else if (s == 1) result[i] = new SymbolicAxis(AxisRole.One, 1);
            else if (s > 1) fixedEntries.Add((i, null, s));
            else throw new ModelFormatException($"{where}: shape [{string.Join(",", shape)}] has the invalid entry {s}");
        }

        // Match the non-unit output entries, in order, against the non-unit input axes.
        var pending = fixedEntries.Where(e => e.Copy is not { IsUnit: true }).OrderBy(e => e.Index).ToList();
        foreach (var e in fixedEntries.Where(e => e.Copy is { IsUnit: true })) result[e.Index] = e.Copy!.Value;
        int p = 0;
        var order = pending.Select(e => e.Index).Append(inferAt).Where(i => i >= 0).OrderBy(i => i).ToArray();
        foreach (var index in order)
        {
            if (index == inferAt)
            {
                int remainingFixed = pending.Count(e => e.Index > index);
                int take = input.Length - p - remainingFixed;
                if (take < 0) throw Mismatch(shape, where);
                result[index] = Merge(input.AsSpan(p, take), where);
                p += take;
                continue;
            }

            var entry = pending.First(e => e.Index == index);
            if (p >= input.Length) throw Mismatch(shape, where);
            var have = input[p];
            if (entry.Copy is { } copy)
            {
                if (copy != have) throw Mismatch(shape, where);
                result[index] = copy;
            }
            else if (have.Role == AxisRole.Feature)
            {
                if (have.Size != entry.Size) throw Mismatch(shape, where);
                result[index] = have;
            }
            else
            {
                result[index] = have; // a time or batch axis of fixed size in this export
            }

            p++;
        }

        if (p != input.Length) throw Mismatch(shape, where);
        return new SymbolicShape(result);
    }

    private ModelFormatException Mismatch(long[] shape, string where) =>
        new($"{where}: reshape of {this} to [{string.Join(",", shape)}] mixes or drops feature, time and batch axes, which is not supported");

    private SymbolicAxis Merge(ReadOnlySpan<SymbolicAxis> group, string where)
    {
        var nonUnit = new List<SymbolicAxis>();
        foreach (var a in group)
        {
            if (!a.IsUnit) nonUnit.Add(a);
        }

        if (nonUnit.Count == 0) return new SymbolicAxis(AxisRole.One, 1);
        if (nonUnit.Count == 1) return nonUnit[0];
        if (nonUnit.All(a => a.IsRowLike)) return new SymbolicAxis(AxisRole.Rows);
        throw new ModelFormatException($"{where}: flattening axes [{string.Join(", ", nonUnit)}] of {this} together mixes features with time or batch, which is not supported");
    }

    private static HashSet<int> Normalize(long[] axes, int rank, string where)
    {
        var set = new HashSet<int>();
        foreach (var a in axes)
        {
            long n = a < 0 ? a + rank : a;
            if (n < 0 || n >= rank || !set.Add((int)n))
                throw new ModelFormatException($"{where}: axes [{string.Join(",", axes)}] are invalid for a tensor of rank {rank}");
        }

        return set;
    }
}
