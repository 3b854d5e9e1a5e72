using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using LstmStream.Pipeline.Models.Onnx.Proto;
using AttributeType = LstmStream.Pipeline.Models.Onnx.Proto.AttributeProto.Types.AttributeType;
using DataType = LstmStream.Pipeline.Models.Onnx.Proto.TensorProto.Types.DataType;

namespace LstmStream.Tests.Models.Onnx;

/// <summary>Builds small ONNX models in tests, the way exporters lay them out.</summary>
internal sealed class OnnxTestGraph(int opset)
{
    public GraphProto Graph { get; } = new() { Name = "test" };
    public int Opset { get; } = opset;

    /// <summary>A float graph input; a dimension is a size (long/int) or a symbol (string).</summary>
    public OnnxTestGraph Input(string name, params object[] dims) => Value(Graph.Input, name, DataType.Float, dims);

    public OnnxTestGraph IntInput(string name, params object[] dims) => Value(Graph.Input, name, DataType.Int32, dims);

    public OnnxTestGraph Output(string name, params object[] dims) => Value(Graph.Output, name, DataType.Float, dims);

    public OnnxTestGraph Floats(string name, long[] dims, float[] values, bool rawData = true)
    {
        Graph.Initializer.Add(FloatTensor(name, dims, values, rawData));
        return this;
    }

    public OnnxTestGraph Ints(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.Add(values);
        Graph.Initializer.Add(t);
        return this;
    }

    public NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.Add(inputs);
        n.Output.Add(outputs);
        n.Attribute.Add(attributes);
        Graph.Node.Add(n);
        return n;
    }

    public ModelProto Model()
    {
        var m = new ModelProto { IrVersion = Opset >= 14 ? 8 : 7, ProducerName = "test", Graph = Graph.Clone() };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return m;
    }

    public byte[] Bytes() => Model().ToByteArray();

    public static TensorProto FloatTensor(string name, long[] dims, float[] values, bool rawData = true)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.Add(dims);
        if (rawData)
        {
            var bytes = new byte[4 * values.Length];
            for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
            t.RawData = ByteString.CopyFrom(bytes);
        }
        else
        {
            t.FloatData.Add(values);
        }

        return t;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeType.Float, F = value };

    public static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attr(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    public static AttributeProto Attr(string name, string[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeType.Strings };
        a.Strings.Add(values.Select(v => ByteString.CopyFrom(Encoding.UTF8.GetBytes(v))));
        return a;
    }

    public static AttributeProto Attr(string name, TensorProto value) => new() { Name = name, Type = AttributeType.Tensor, T = value };

    private OnnxTestGraph Value(Google.Protobuf.Collections.RepeatedField<ValueInfoProto> list, string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"bad dimension {d}"),
            });
        }

        list.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        });
        return this;
    }
}
