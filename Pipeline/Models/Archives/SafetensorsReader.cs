using System.Buffers.Binary;
using System.Text.Json;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Reads a <c>.safetensors</c> file: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>),
/// then the data block that the offsets index. F32, F64, F16 and BF16 tensors are converted to float32.
/// </summary>
public static class SafetensorsReader
{
    /// <summary>Upper bound on the JSON header, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    public static IReadOnlyDictionary<string, NamedTensor> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a whole safetensors file held in <paramref name="bytes"/>; <paramref name="source"/> names it in errors.</summary>
    public static IReadOnlyDictionary<string, NamedTensor> Read(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
            throw Error(source, $"the file has {bytes.Length} bytes, too short for the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderLength)
            throw Error(source, $"the header length {headerLength} exceeds the {MaxHeaderLength}-byte limit (not a safetensors file?)");
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Error(source, $"the header length {headerLength} runs past the end of the {bytes.Length}-byte file");
        var header = bytes.Slice(8, (int)headerLength);
        var data = bytes[(8 + (int)headerLength)..];

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw Error(source, $"the header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Error(source, $"the header is a JSON {document.RootElement.ValueKind}, expected an object");
            var tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
            var ranges = new List<(long Begin, long End, string Name)>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                if (tensors.ContainsKey(entry.Name)) throw Error(source, $"tensor '{entry.Name}' appears twice in the header");
                var (tensor, begin, end) = ReadTensor(entry, data, source);
                tensors.Add(entry.Name, tensor);
                ranges.Add((begin, end, entry.Name));
            }

            ranges.Sort((a, b) => a.Begin.CompareTo(b.Begin));
            for (var k = 1; k < ranges.Count; k++)
            {
                if (ranges[k].Begin < ranges[k - 1].End)
                    throw Error(source, $"the data of tensors '{ranges[k - 1].Name}' and '{ranges[k].Name}' overlap");
            }

            return tensors;
        }
    }

    private static (NamedTensor Tensor, long Begin, long End) ReadTensor(JsonProperty entry, ReadOnlySpan<byte> data, string source)
    {
        var name = entry.Name;
        var info = entry.Value;
        if (info.ValueKind != JsonValueKind.Object)
            throw Error(source, $"tensor '{name}': header entry is a JSON {info.ValueKind}, expected an object with dtype, shape, data_offsets");
        if (!info.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Error(source, $"tensor '{name}': missing or non-string 'dtype'");
        var dtype = dtypeElement.GetString()!;
        ElementType type = dtype switch
        {
            "F32" => ElementType.Float32,
            "F64" => ElementType.Float64,
            "F16" => ElementType.Float16,
            "BF16" => ElementType.BFloat16,
            _ => throw Error(source, $"tensor '{name}' has dtype {dtype}; only F32, F64, F16 and BF16 are supported"),
        };

        if (!info.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Error(source, $"tensor '{name}': missing or non-array 'shape'");
        var shape = new int[shapeElement.GetArrayLength()];
        var d = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out var value) || value < 0)
                throw Error(source, $"tensor '{name}': shape entry {d} is {dim.GetRawText()}, expected a non-negative integer");
            shape[d++] = value;
        }

        if (!info.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Error(source, $"tensor '{name}': missing 'data_offsets' [begin, end]");
        if (!offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw Error(source, $"tensor '{name}': data_offsets {offsets.GetRawText()} are not a valid [begin, end] range");
        if (end > data.Length)
            throw Error(source, $"tensor '{name}': data_offsets {offsets.GetRawText()} run past the {data.Length}-byte data block");

        long count;
        try
        {
            count = NamedTensor.ElementCount(shape);
        }
        catch (OverflowException)
        {
            throw Error(source, $"tensor '{name}': shape {NamedTensor.FormatShape(shape)} has too many elements");
        }

        long expectedBytes = count * ElementDecoder.SizeOf(type);
        if (end - begin != expectedBytes)
            throw Error(source, $"tensor '{name}': {dtype} shape {NamedTensor.FormatShape(shape)} needs {expectedBytes} bytes but data_offsets {offsets.GetRawText()} give {end - begin}");
        if (count > Array.MaxLength)
            throw Error(source, $"tensor '{name}': {count} elements exceed the largest supported array");

        var values = new float[count];
        ElementDecoder.Decode(data[(int)begin..(int)end], type, bigEndian: false, values);
        return (new NamedTensor(name, shape, values), begin, end);
    }

    private static ModelFormatException Error(string source, string message, Exception? inner = null) =>
        new($"{source}: safetensors: {message}", inner);
}
