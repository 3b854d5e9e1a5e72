using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Reads a <c>.safetensors</c> file: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>),
/// then the data block that the offsets index. F32, F64, F16 and BF16 tensors are converted to float32.
/// Offsets, sizes and overlaps are checked before any data is read.
/// </summary>
internal static class SafetensorsReader
{
    /// <summary>Upper bound on the JSON header, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>One tensor's header entry, validated against the data block's length.</summary>
    private readonly record struct Entry(string Name, ElementType Type, int[] Shape, long Count, long Begin, long End);

    /// <summary>Reads the file tensor by tensor (it is never held in memory whole).</summary>
    public static IReadOnlyDictionary<string, NamedTensor> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path);
        long fileLength = RandomAccess.GetLength(handle);
        Span<byte> prefix = stackalloc byte[8];
        if (fileLength < 8)
            throw Error(path, $"the file has {fileLength} bytes, too short for the 8-byte header length");
        ReadExactly(handle, prefix, 0, path);
        long headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(prefix), fileLength, path);
        var header = new byte[headerLength];
        ReadExactly(handle, header, 8, path);
        long dataStart = 8 + headerLength;
        var entries = ParseHeader(header, fileLength - dataStart, path);

        var tensors = new Dictionary<string, NamedTensor>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var values = new float[e.Count];
            if (e.Type == ElementType.Float32 && BitConverter.IsLittleEndian)
            {
                ReadExactly(handle, MemoryMarshal.AsBytes(values.AsSpan()), dataStart + e.Begin, path);
            }
            else
            {
                var buffer = ArrayPool<byte>.Shared.Rent((int)(e.End - e.Begin));
                try
                {
                    var bytes = buffer.AsSpan(0, (int)(e.End - e.Begin));
                    ReadExactly(handle, bytes, dataStart + e.Begin, path);
                    ElementDecoder.Decode(bytes, e.Type, bigEndian: false, values);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            tensors.Add(e.Name, new NamedTensor(e.Name, e.Shape, values));
        }

        return tensors;
    }

    /// <summary>Parses a whole safetensors file held in <paramref name="bytes"/>; <paramref name="source"/> names it in errors.</summary>
    public static IReadOnlyDictionary<string, NamedTensor> Read(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
            throw Error(source, $"the file has {bytes.Length} bytes, too short for the 8-byte header length");
        long headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(bytes), bytes.Length, source);
        var data = bytes[(8 + (int)headerLength)..];
        var entries = ParseHeader(bytes.Slice(8, (int)headerLength), data.Length, source);
        var tensors = new Dictionary<string, NamedTensor>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var values = new float[e.Count];
            ElementDecoder.Decode(data[(int)e.Begin..(int)e.End], e.Type, bigEndian: false, values);
            tensors.Add(e.Name, new NamedTensor(e.Name, e.Shape, values));
        }

        return tensors;
    }

    private static long CheckHeaderLength(ulong headerLength, long fileLength, string source)
    {
        if (headerLength > MaxHeaderLength)
            throw Error(source, $"the header length {headerLength} exceeds the {MaxHeaderLength}-byte limit (not a safetensors file?)");
        if (headerLength > (ulong)(fileLength - 8))
            throw Error(source, $"the header length {headerLength} runs past the end of the {fileLength}-byte file");
        return (long)headerLength;
    }

    private static List<Entry> ParseHeader(ReadOnlySpan<byte> header, long dataLength, string source)
    {
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
            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                if (!names.Add(property.Name)) throw Error(source, $"tensor '{property.Name}' appears twice in the header");
                entries.Add(ParseEntry(property, dataLength, source));
            }

            var byOffset = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
            for (var k = 1; k < byOffset.Count; k++)
            {
                if (byOffset[k].Begin < byOffset[k - 1].End)
                    throw Error(source, $"the data of tensors '{byOffset[k - 1].Name}' and '{byOffset[k].Name}' overlap");
            }

            return entries;
        }
    }

    private static Entry ParseEntry(JsonProperty property, long dataLength, string source)
    {
        var name = property.Name;
        var info = property.Value;
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
        if (end > dataLength)
            throw Error(source, $"tensor '{name}': data_offsets {offsets.GetRawText()} run past the {dataLength}-byte data block");

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
        if (expectedBytes > Array.MaxLength)
            throw Error(source, $"tensor '{name}': {expectedBytes} bytes exceed the largest supported tensor");
        return new Entry(name, type, shape, count, begin, end);
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset, string source)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(handle, destination, offset);
            if (read == 0) throw Error(source, $"the file ended at byte {offset} while reading data");
            destination = destination[read..];
            offset += read;
        }
    }

    private static ModelFormatException Error(string source, string message, Exception? inner = null) =>
        new($"{source}: safetensors: {message}", inner);
}
