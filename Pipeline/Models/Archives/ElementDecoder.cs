using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>Converts packed float16 / bfloat16 / float32 / float64 elements of either byte order to float32.</summary>
internal static class ElementDecoder
{
    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int SizeOf(ElementType type) => type switch
    {
        ElementType.Float16 or ElementType.BFloat16 => 2,
        ElementType.Float32 => 4,
        ElementType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown element type"),
    };

    /// <summary>
    /// Decodes <c>destination.Length</c> elements from <paramref name="source"/>, which must hold exactly that many.
    /// Float64 values beyond the float32 range become infinities, as a C cast does.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> source, ElementType type, bool bigEndian, Span<float> destination)
    {
        int size = SizeOf(type);
        if (source.Length != (long)destination.Length * size)
            throw new ArgumentException($"{source.Length} bytes do not hold {destination.Length} elements of {type}", nameof(source));
        bool swap = bigEndian == BitConverter.IsLittleEndian;
        switch (type)
        {
            case ElementType.Float32 when !swap:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case ElementType.Float32:
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<int>(source.Slice(4 * i, 4))));
                break;
            case ElementType.Float64:
                for (var i = 0; i < destination.Length; i++)
                {
                    var bits = MemoryMarshal.Read<long>(source.Slice(8 * i, 8));
                    if (swap) bits = BinaryPrimitives.ReverseEndianness(bits);
                    destination[i] = (float)BitConverter.Int64BitsToDouble(bits);
                }

                break;
            case ElementType.Float16:
                for (var i = 0; i < destination.Length; i++)
                {
                    var bits = MemoryMarshal.Read<ushort>(source.Slice(2 * i, 2));
                    if (swap) bits = BinaryPrimitives.ReverseEndianness(bits);
                    destination[i] = (float)BitConverter.UInt16BitsToHalf(bits);
                }

                break;
            case ElementType.BFloat16:
                for (var i = 0; i < destination.Length; i++)
                {
                    var bits = MemoryMarshal.Read<ushort>(source.Slice(2 * i, 2));
                    if (swap) bits = BinaryPrimitives.ReverseEndianness(bits);
                    destination[i] = BitConverter.Int32BitsToSingle(bits << 16);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "unknown element type");
        }
    }
}
