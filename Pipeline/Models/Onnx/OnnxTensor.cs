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
        var raw = tensor.HasRawData ? tensor.RawData.Span : ReadOnlySpan<byte>.Empty;
        bool useRaw = tensor.HasRawData;

        switch (type)
        {
            case TensorProto.Types.DataType.Float:
            {
                var values = new float[n];
                if (useRaw)
                {
                    CheckRawLength(raw, n, 4, name, where);
                    for (var i = 0; i < n; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(4 * i, 4));
                }
                else
                {
                    CheckCount(tensor.FloatData.Count, n, "float_data", name, where);
                    tensor.FloatData.CopyTo(values, 0);
                }

                return new OnnxTensor(name, dims, values, null);
            }

            case TensorProto.Types.DataType.Double:
            {
                var values = new float[n];
                if (useRaw)
                {
                    CheckRawLength(raw, n, 8, name, where);
                    for (var i = 0; i < n; i++) values[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(8 * i, 8));
                }
                else
                {
                    CheckCount(tensor.DoubleData.Count, n, "double_data", name, where);
                    for (var i = 0; i < n; i++) values[i] = (float)tensor.DoubleData[i];
                }

                return new OnnxTensor(name, dims, values, null);
            }

            case TensorProto.Types.DataType.Int64:
            {
                var values = new long[n];
                if (useRaw)
                {
                    CheckRawLength(raw, n, 8, name, where);
                    for (var i = 0; i < n; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(8 * i, 8));
                }
                else
                {
                    CheckCount(tensor.Int64Data.Count, n, "int64_data", name, where);
                    tensor.Int64Data.CopyTo(values, 0);
                }

                return new OnnxTensor(name, dims, null, values);
            }

            case TensorProto.Types.DataType.Int32:
            case TensorProto.Types.DataType.Int16:
            case TensorProto.Types.DataType.Int8:
            case TensorProto.Types.DataType.Uint16:
            case TensorProto.Types.DataType.Uint8:
            case TensorProto.Types.DataType.Bool:
            {
                var values = new long[n];
                if (useRaw)
                {
                    int size = type switch
                    {
                        TensorProto.Types.DataType.Int32 => 4,
                        TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
                        _ => 1,
                    };
                    CheckRawLength(raw, n, size, name, where);
                    for (var i = 0; i < n; i++)
                    {
                        values[i] = type switch
                        {
                            TensorProto.Types.DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw.Slice(4 * i, 4)),
                            TensorProto.Types.DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(raw.Slice(2 * i, 2)),
                            TensorProto.Types.DataType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(raw.Slice(2 * i, 2)),
                            TensorProto.Types.DataType.Int8 => (sbyte)raw[i],
                            _ => raw[i],
                        };
                    }
                }
                else
                {
                    CheckCount(tensor.Int32Data.Count, n, "int32_data", name, where);
                    for (var i = 0; i < n; i++) values[i] = tensor.Int32Data[i];
                }

                return new OnnxTensor(name, dims, null, values);
            }

            default:
                throw new ModelFormatException(
                    $"{where}: tensor '{name}' has element type {DescribeType(tensor.DataType)}; only float, double and integer tensors are supported");
        }
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
