using System.Buffers.Binary;
using LstmStream.Pipeline.Models.Onnx.Proto;

namespace LstmStream.Pipeline.Models.Onnx;

/// <summary>
/// A constant tensor read out of an ONNX <see cref="TensorProto"/> (initializer, Constant node value or
/// test-data file): its shape and its values as float or as integer, whichever its element type is.
/// </summary>
internal sealed class OnnxTensor
{
    private OnnxTensor(string name, long[] dims, float[]? floats, long[]? integers)
    {
        Name = name;
        Dims = dims;
        Floats = floats;
        Integers = integers;
    }

    public string Name { get; }
    public long[] Dims { get; }

    /// <summary>Values of a FLOAT or DOUBLE tensor (doubles narrowed), else null.</summary>
    public float[]? Floats { get; }

    /// <summary>Values of an integer or BOOL tensor, else null.</summary>
    public long[]? Integers { get; }

    public long ElementCount => Floats?.Length ?? Integers!.Length;

    public string ShapeText => "[" + string.Join(",", Dims) + "]";

    public float[] RequireFloats(string where)
    {
        if (Floats is null) throw new ModelFormatException($"{where}: tensor '{Name}' holds integers, expected float values");
        return Floats;
    }

    public long[] RequireIntegers(string where)
    {
        if (Integers is null) throw new ModelFormatException($"{where}: tensor '{Name}' holds floats, expected integer values");
        return Integers;
    }

    /// <summary>True when every value is zero.</summary>
    public bool IsAllZero => Floats is { } f ? f.All(v => v == 0f) : Integers!.All(v => v == 0);

    public static OnnxTensor FromProto(TensorProto tensor, string where)
    {
        var name = tensor.Name;
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
        {
            var location = tensor.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? "?";
            throw new ModelFormatException(
                $"{where}: tensor '{name}' keeps its data in an external file ('{location}'); external data is not supported, save the model with its weights inside the .onnx file");
        }

        var dims = tensor.Dims.ToArray();
        long count = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new ModelFormatException($"{where}: tensor '{name}' has a negative dimension in shape [{string.Join(",", dims)}]");
            count = checked(count * d);
        }

        if (count > int.MaxValue) throw new ModelFormatException($"{where}: tensor '{name}' has {count} elements, more than supported");
        int n = (int)count;
        var type = (TensorProto.Types.DataType)tensor.DataType;
        switch (type)
        {
            case TensorProto.Types.DataType.Float:
                return new OnnxTensor(name, dims, Decode(tensor, n, 4, static b => BinaryPrimitives.ReadSingleLittleEndian(b),
                    tensor.FloatData, static v => v, "float_data", where), null);
            case TensorProto.Types.DataType.Double:
                return new OnnxTensor(name, dims, Decode(tensor, n, 8, static b => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
                    tensor.DoubleData, static v => (float)v, "double_data", where), null);
            case TensorProto.Types.DataType.Int64:
                return new OnnxTensor(name, dims, null, Decode(tensor, n, 8, static b => BinaryPrimitives.ReadInt64LittleEndian(b),
                    tensor.Int64Data, static v => v, "int64_data", where));
            case TensorProto.Types.DataType.Int32:
                return Integers(4, static b => BinaryPrimitives.ReadInt32LittleEndian(b));
            case TensorProto.Types.DataType.Int16:
                return Integers(2, static b => BinaryPrimitives.ReadInt16LittleEndian(b));
            case TensorProto.Types.DataType.Uint16:
                return Integers(2, static b => BinaryPrimitives.ReadUInt16LittleEndian(b));
            case TensorProto.Types.DataType.Int8:
                return Integers(1, static b => (sbyte)b[0]);
            case TensorProto.Types.DataType.Uint8:
            case TensorProto.Types.DataType.Bool:
                return Integers(1, static b => b[0]);
            default:
                throw new ModelFormatException(
                    $"{where}: tensor '{name}' has element type {DescribeType(tensor.DataType)}; only float, double and integer tensors are supported");
        }

        // The narrower integer types travel in int32_data when not raw.
        OnnxTensor Integers(int size, RawElement<long> read) =>
            new(name, dims, null, Decode(tensor, n, size, read, tensor.Int32Data, static v => v, "int32_data", where));
    }

    /// <summary>One element read from its little-endian bytes in raw_data.</summary>
    private delegate T RawElement<T>(ReadOnlySpan<byte> bytes);

    /// <summary>
    /// The <paramref name="n"/> values of <paramref name="tensor"/>: from raw_data (<paramref name="size"/> bytes each)
    /// when it has any, else from its typed field (<paramref name="fieldName"/>); the count checked either way.
    /// </summary>
    private static T[] Decode<T, TField>(TensorProto tensor, int n, int size, RawElement<T> readRaw,
        IReadOnlyList<TField> field, Func<TField, T> convert, string fieldName, string where)
    {
        var values = new T[n];
        if (tensor.HasRawData)
        {
            var raw = tensor.RawData.Span;
            CheckRawLength(raw, n, size, tensor.Name, where);
            for (var i = 0; i < n; i++) values[i] = readRaw(raw.Slice(size * i, size));
        }
        else
        {
            CheckCount(field.Count, n, fieldName, tensor.Name, where);
            for (var i = 0; i < n; i++) values[i] = convert(field[i]);
        }

        return values;
    }

    /// <summary>A tensor built in code (Constant node scalars and lists).</summary>
    public static OnnxTensor FromFloats(string name, long[] dims, float[] values) => new(name, dims, values, null);

    public static OnnxTensor FromIntegers(string name, long[] dims, long[] values) => new(name, dims, null, values);

    public static string DescribeType(int dataType) =>
        Enum.IsDefined(typeof(TensorProto.Types.DataType), dataType)
            ? ((TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant()
            : $"#{dataType}";

    private static void CheckRawLength(ReadOnlySpan<byte> raw, int n, int size, string name, string where)
    {
        if (raw.Length != (long)n * size)
            throw new ModelFormatException($"{where}: tensor '{name}' has {raw.Length} bytes of raw_data, expected {n} elements × {size} bytes");
    }

    private static void CheckCount(int count, int n, string field, string name, string where)
    {
        if (count != n)
            throw new ModelFormatException($"{where}: tensor '{name}' has {count} values in {field}, expected {n} for its shape");
    }
}
