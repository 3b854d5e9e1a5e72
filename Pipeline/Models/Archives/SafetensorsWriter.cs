using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Writes tensors as a <c>.safetensors</c> file with float32 (<c>F32</c>) little-endian data, the header
/// padded with spaces to an 8-byte boundary, tensors stored in the order given.
/// </summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.Create(path);
        Write(stream, tensors, metadata);
    }

    public static void Write(Stream stream, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in list)
        {
            if (t.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is given twice", nameof(tensors));
        }

        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (metadata is not null)
            {
                writer.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) writer.WriteString(key, value);
                writer.WriteEndObject();
            }

            long offset = 0;
            foreach (var t in list)
            {
                writer.WriteStartObject(t.Name);
                writer.WriteString("dtype", "F32");
                writer.WriteStartArray("shape");
                foreach (var d in t.Shape) writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += 4L * t.Values.Length;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        int padding = (int)((8 - json.Length % 8) % 8);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
        stream.Write(length);
        json.Position = 0;
        json.CopyTo(stream);
        for (var i = 0; i < padding; i++) stream.WriteByte((byte)' ');
        foreach (var t in list) WriteLittleEndian(stream, t.Values);
    }

    internal static void WriteLittleEndian(Stream stream, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }

        Span<byte> four = stackalloc byte[4];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(four, v);
            stream.Write(four);
        }
    }
}
