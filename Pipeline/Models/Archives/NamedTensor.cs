namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// One tensor of a weight archive, converted to float32: <see cref="Values"/> holds the elements in
/// row-major (C) order for <see cref="Shape"/> (empty shape = scalar, one value).
/// </summary>
internal sealed record NamedTensor
{
    public NamedTensor(string name, int[] shape, float[] values)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(values);
        long count = ElementCount(shape);
        if (count != values.Length)
            throw new ArgumentException($"tensor '{name}' has {values.Length} values but shape {FormatShape(shape)} holds {count}", nameof(values));
        Name = name;
        Shape = shape;
        Values = values;
    }

    public string Name { get; }
    public int[] Shape { get; }
    public float[] Values { get; }
    public int Rank => Shape.Length;

    /// <summary>The shape as text, like <c>[4, 3]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Number of elements of a shape; throws for a negative dimension.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape {FormatShape(shape)} has a negative dimension", nameof(shape));
            count = checked(count * d);
        }

        return count;
    }
}
