using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// Evaluates the few operators exporters leave on weights when they do not fold constants themselves
/// (PyTorch with <c>do_constant_folding=False</c> reorders gate blocks with Slice + Concat and adds the
/// direction axis with Unsqueeze): Identity, Unsqueeze, Squeeze, Reshape, Flatten, Transpose, Concat
/// and Slice (step 1) over constant inputs. Anything else is not a constant.
/// </summary>
internal static class OnnxConstantFolder
{
    private static readonly HashSet<string> FoldableOps = ["Identity", "Unsqueeze", "Squeeze", "Flatten", "Reshape", "Transpose", "Concat", "Slice"];

    /// <summary>The value of <paramref name="node"/>'s first output, or null when it cannot be computed here.</summary>
    public static OnnxTensor? TryFold(NodeProto node, Func<string, OnnxTensor?> constant)
    {
        if (node.Output.Count == 0 || node.Input.Count == 0 || !FoldableOps.Contains(node.OpType)) return null;
        var inputs = new List<OnnxTensor?>();
        foreach (var name in node.Input) inputs.Add(name.Length == 0 ? null : constant(name));
        var data = inputs[0];
        if (data is null) return null;
        var attrs = new OnnxNodeAttributes(node);
        var where = attrs.Where;
        var name0 = node.Output[0];
        long[] Ints(int index, string attribute) =>
            attrs.Ints(attribute) ?? (index < inputs.Count && inputs[index] is { } t ? t.RequireIntegers(where) : null)
            ?? throw new ModelFormatException($"{where}: '{attribute}' is neither an attribute nor a constant input");

        switch (node.OpType)
        {
            case "Identity":
                return WithDims(data, name0, data.Dims);
            case "Unsqueeze":
            {
                var axes = Ints(1, "axes");
                int rank = data.Dims.Length + axes.Length;
                var set = axes.Select(a => (int)(a < 0 ? a + rank : a)).ToHashSet();
                var dims = new long[rank];
                for (int i = 0, next = 0; i < rank; i++) dims[i] = set.Contains(i) ? 1 : data.Dims[next++];
                return WithDims(data, name0, dims);
            }

            case "Squeeze":
            {
                long[]? axes = attrs.Ints("axes") ?? (inputs.Count > 1 && inputs[1] is { } t ? t.RequireIntegers(where) : null);
                int rank = data.Dims.Length;
                var set = axes?.Select(a => (int)(a < 0 ? a + rank : a)).ToHashSet();
                var dims = data.Dims.Where((d, i) => set is null ? d != 1 : !set.Contains(i)).ToArray();
                return WithDims(data, name0, dims);
            }

            case "Flatten":
            {
                long axis = attrs.Int("axis") ?? 1;
                int a = (int)(axis < 0 ? axis + data.Dims.Length : axis);
                return WithDims(data, name0, [data.Dims[..a].Aggregate(1L, (p, d) => p * d), data.Dims[a..].Aggregate(1L, (p, d) => p * d)]);
            }

            case "Reshape":
            {
                if (inputs.Count < 2 || inputs[1] is null) return null;
                var shape = (long[])inputs[1]!.RequireIntegers(where).Clone();
                bool allowZero = (attrs.Int("allowzero") ?? 0) != 0;
                for (var i = 0; i < shape.Length; i++)
                {
                    if (shape[i] == 0 && !allowZero) shape[i] = data.Dims[i];
                }

                long known = shape.Where(s => s != -1).Aggregate(1L, (p, d) => p * d);
                for (var i = 0; i < shape.Length; i++)
                {
                    if (shape[i] == -1) shape[i] = known == 0 ? 0 : data.ElementCount / known;
                }

                return WithDims(data, name0, shape);
            }

            case "Transpose":
            {
                int rank = data.Dims.Length;
                var perm = attrs.Ints("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
                var dims = perm.Select(p => data.Dims[p]).ToArray();
                var srcStrides = Strides(data.Dims);
                return Gather(data, name0, dims, outIndex => outIndex.Select((v, i) => v * srcStrides[perm[i]]).Sum());
            }

            case "Concat":
            {
                if (inputs.Any(t => t is null)) return null;
                int rank = data.Dims.Length;
                long axisValue = attrs.Int("axis") ?? throw new ModelFormatException($"{where}: Concat needs an axis");
                int axis = (int)(axisValue < 0 ? axisValue + rank : axisValue);
                var parts = inputs.Select(t => t!).ToList();
                var dims = (long[])data.Dims.Clone();
                dims[axis] = parts.Sum(p => p.Dims[axis]);
                long outer = dims[..axis].Aggregate(1L, (p, d) => p * d);
                long inner = dims[(axis + 1)..].Aggregate(1L, (p, d) => p * d);
                if (parts.All(p => p.Floats is not null))
                {
                    var result = new float[outer * dims[axis] * inner];
                    long at = 0;
                    for (long o = 0; o < outer; o++)
                    {
                        foreach (var p in parts)
                        {
                            long block = p.Dims[axis] * inner;
                            Array.Copy(p.Floats!, o * block, result, at, block);
                            at += block;
                        }
                    }

                    return OnnxTensor.FromFloats(name0, dims, result);
                }

                if (parts.All(p => p.Integers is not null))
                {
                    var result = new long[outer * dims[axis] * inner];
                    long at = 0;
                    for (long o = 0; o < outer; o++)
                    {
                        foreach (var p in parts)
                        {
                            long block = p.Dims[axis] * inner;
                            Array.Copy(p.Integers!, o * block, result, at, block);
                            at += block;
                        }
                    }

                    return OnnxTensor.FromIntegers(name0, dims, result);
                }

                return null;
            }

            case "Slice":
            {
                int rank = data.Dims.Length;
                var starts = Ints(1, "starts");
                var ends = Ints(2, "ends");
                var axes = attrs.Ints("axes") ?? (inputs.Count > 3 && inputs[3] is { } a ? a.RequireIntegers(where) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray());
                if (inputs.Count > 4 && inputs[4] is { } steps && steps.RequireIntegers(where).Any(s => s != 1)) return null;
                var begin = new long[rank];
                var dims = (long[])data.Dims.Clone();
                for (var i = 0; i < axes.Length; i++)
                {
                    int ax = (int)(axes[i] < 0 ? axes[i] + rank : axes[i]);
                    long size = data.Dims[ax];
                    long s = Math.Clamp(starts[i] < 0 ? starts[i] + size : starts[i], 0, size);
                    long e = Math.Clamp(ends[i] < 0 ? ends[i] + size : ends[i], 0, size);
                    begin[ax] = s;
                    dims[ax] = Math.Max(0, e - s);
                }

                var srcStrides = Strides(data.Dims);
                return Gather(data, name0, dims, outIndex => outIndex.Select((v, i) => (v + begin[i]) * srcStrides[i]).Sum());
            }

            default:
                return null;
        }
    }

    private static OnnxTensor WithDims(OnnxTensor t, string name, long[] dims)
    {
        if (dims.Aggregate(1L, (p, d) => p * d) != t.ElementCount)
            throw new ModelFormatException($"tensor '{name}': shape [{string.Join(",", dims)}] does not hold the {t.ElementCount} values of '{t.Name}'");
        return t.Floats is { } f ? OnnxTensor.FromFloats(name, dims, f) : OnnxTensor.FromIntegers(name, dims, t.Integers!);
    }

    private static long[] Strides(long[] dims)
    {
        var strides = new long[dims.Length];
        long s = 1;
        for (var i = dims.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= dims[i];
        }

        return strides;
    }

    /// <summary>A tensor of <paramref name="dims"/> whose element at each index comes from <paramref name="source"/>'s flat offset.</summary>
    private static OnnxTensor Gather(OnnxTensor data, string name, long[] dims, Func<long[], long> source)
    {
        long count = dims.Aggregate(1L, (p, d) => p * d);
        var index = new long[dims.Length];
        var offsets = new long[count];
        for (long n = 0; n < count; n++)
        {
            offsets[n] = source(index);
            for (var i = dims.Length - 1; i >= 0; i--)
            {
                if (++index[i] < dims[i]) break;
                index[i] = 0;
            }
        }

        return data.Floats is { } f
            ? OnnxTensor.FromFloats(name, dims, offsets.Select(o => f[o]).ToArray())
            : OnnxTensor.FromIntegers(name, dims, offsets.Select(o => data.Integers![o]).ToArray());
    }
}
