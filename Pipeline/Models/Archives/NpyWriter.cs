using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Writes one tensor as a NumPy <c>.npy</c> array, format 1.0 (2.0 when the header needs it), dtype
/// <c>'&lt;f4'</c>, C order, header padded so the data starts on a 64-byte boundary.
/// </summary>
internal static class NpyWriter
{
    public static void Write(Stream stream, NamedTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensor);
        var shape = tensor.Shape.Length switch
        {
            0 => "()",
            1 => $"({tensor.Shape[0].ToString(CultureInfo.InvariantCulture)},)",
            _ => "(" + string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        int prefix = 10;
        byte major = 1;
        if (dict.Length + 1 + prefix > ushort.MaxValue)
        {
            prefix = 12;
            major = 2;
        }

        int total = prefix + dict.Length + 1;
        int padding = (64 - total % 64) % 64;
        var header = dict + new string(' ', padding) + "\n";
        var headerBytes = Encoding.Latin1.GetBytes(header);
        stream.Write(NpyReader.Magic);
        stream.WriteByte(major);
        stream.WriteByte(0);
        Span<byte> length = stackalloc byte[4];
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)headerBytes.Length);
            stream.Write(length[..2]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)headerBytes.Length);
            stream.Write(length);
        }

        stream.Write(headerBytes);
        SafetensorsWriter.WriteLittleEndian(stream, tensor.Values);
    }
}
