using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Reads one NumPy <c>.npy</c> array (format versions 1.0, 2.0 and 3.0): the magic <c>\x93NUMPY</c>, the
/// version, a little-endian header length (2 bytes in 1.0, 4 bytes after), a Python dict literal
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>, then the raw elements.
/// Float dtypes f2, f4, f8 of either byte order are accepted; Fortran-ordered data is transposed to
/// row-major.
/// </summary>
internal static class NpyReader
{
    /// <summary>0x93 then "NUMPY" (a u8 string literal would encode U+0093 as two bytes).</summary>
    internal static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <param name="bytes">The whole .npy content.</param>
    /// <param name="name">The tensor's name, used for the result and in errors.</param>
    /// <param name="source">The file (or archive member) that holds it, used in errors.</param>
    public static NamedTensor Read(ReadOnlySpan<byte> bytes, string name, string source)
    {
        var (headerStart, headerLength) = ReadPreamble(bytes, name, source);
        if ((long)headerStart + headerLength > bytes.Length)
            throw Error(source, name, $"the {headerLength}-byte header runs past the end of the {bytes.Length}-byte array");
        var (descr, fortranOrder, shape, type, bigEndian, needed) = ReadHeader(bytes, headerStart, headerLength, name, source);
        var data = bytes[(headerStart + headerLength)..];
        if (data.Length != needed)
            throw Error(source, name, $"dtype '{descr}' shape {NamedTensor.FormatShape(shape)} needs {needed} data bytes but the array holds {data.Length}");

        var values = new float[needed / ElementDecoder.SizeOf(type)];
        ElementDecoder.Decode(data, type, bigEndian, values);
        if (fortranOrder && shape.Length > 1) values = FortranToRowMajor(values, shape);
        return new NamedTensor(name, shape, values);
    }

    /// <summary>Bytes a reader must have to learn a .npy array's size: the magic, version and header length.</summary>
    internal const int PreambleBytes = 12;

    /// <summary>
    /// The whole size of a .npy array (preamble, header and data) as its header describes it, from its first bytes:
    /// lets an archive reader check a member before inflating it. <paramref name="prefix"/> must hold the preamble
    /// (<see cref="PreambleBytes"/>, or the whole array if shorter) and, when <paramref name="headerEnd"/> comes back
    /// larger than it, is called again with that many bytes. Returns null until the header is complete.
    /// </summary>
    internal static long? DescribedSize(ReadOnlySpan<byte> prefix, string name, string source, out int headerEnd)
    {
        var (headerStart, headerLength) = ReadPreamble(prefix, name, source);
        headerEnd = headerStart + headerLength;
        if (prefix.Length < headerEnd) return null;
        return headerEnd + ReadHeader(prefix, headerStart, headerLength, name, source).DataBytes;
    }

    private static (int HeaderStart, int HeaderLength) ReadPreamble(ReadOnlySpan<byte> bytes, string name, string source)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw Error(source, name, "not a .npy array (the magic \\x93NUMPY is missing)");
        byte major = bytes[6];
        switch (major)
        {
            case 1:
                return (10, BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]));
            case 2 or 3:
                if (bytes.Length < 12) throw Error(source, name, "the file ends inside the header length");
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
                if (length > int.MaxValue - 12) throw Error(source, name, $"header length {length} is too large");
                return (12, (int)length);
            default:
                throw Error(source, name, $"format version {major}.{bytes[7]} is not supported (1.0, 2.0 and 3.0 are)");
        }
    }

    private static (string Descr, bool FortranOrder, int[] Shape, ElementType Type, bool BigEndian, long DataBytes) ReadHeader(
        ReadOnlySpan<byte> bytes, int headerStart, int headerLength, string name, string source)
    {
        var headerBytes = bytes.Slice(headerStart, headerLength);
        string header;
        try
        {
            header = (bytes[6] == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Error(source, name, $"the header is not valid UTF-8: {e.Message}");
        }

        var (descr, fortranOrder, shape) = ParseHeader(header, name, source);
        var (type, bigEndian) = ParseDescr(descr, name, source);
        long count;
        try
        {
            count = NamedTensor.ElementCount(shape);
        }
        catch (OverflowException)
        {
            throw Error(source, name, $"shape {NamedTensor.FormatShape(shape)} has too many elements");
        }

        if (count > Array.MaxLength) throw Error(source, name, $"{count} elements exceed the largest supported array");
        return (descr, fortranOrder, shape, type, bigEndian, count * ElementDecoder.SizeOf(type));
    }

    /// <summary>Reorders column-major (Fortran) elements of <paramref name="shape"/> into row-major order.</summary>
    internal static float[] FortranToRowMajor(float[] fortran, int[] shape)
    {
        var result = new float[fortran.Length];
        if (result.Length == 0) return result;
        int rank = shape.Length;
        Span<long> strides = stackalloc long[rank];
        long stride = 1;
        for (var k = 0; k < rank; k++)
        {
            strides[k] = stride;
            stride *= shape[k];
        }

        Span<int> index = stackalloc int[rank];
        long source = 0;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = fortran[source];
            for (var k = rank - 1; k >= 0; k--)
            {
                index[k]++;
                source += strides[k];
                if (index[k] < shape[k]) break;
                source -= strides[k] * index[k];
                index[k] = 0;
            }
        }

        return result;
    }

    private static (ElementType Type, bool BigEndian) ParseDescr(string descr, string name, string source)
    {
        if (descr.Length >= 3)
        {
            bool? bigEndian = descr[0] switch
            {
                '<' => false,
                '>' => true,
                '=' => !BitConverter.IsLittleEndian,
                _ => null,
            };
            ElementType? type = descr[1..] switch
            {
                "f2" => ElementType.Float16,
                "f4" => ElementType.Float32,
                "f8" => ElementType.Float64,
                _ => null,
            };
            if (bigEndian is { } be && type is { } t) return (t, be);
        }

        throw Error(source, name, $"dtype '{descr}' is not supported (float arrays '<f2', '<f4', '<f8' or big-endian '>f2', '>f4', '>f8' are)");
    }

    private static (string Descr, bool FortranOrder, int[] Shape) ParseHeader(string header, string name, string source)
    {
        var parser = new PythonLiteralParser(header, name, source);
        string? descr = null;
        bool? fortran = null;
        int[]? shape = null;
        parser.Expect('{');
        while (!parser.TryConsume('}'))
        {
            var key = parser.ReadString();
            parser.Expect(':');
            switch (key)
            {
                case "descr":
                    descr = parser.ReadString();
                    break;
                case "fortran_order":
                    fortran = parser.ReadBool();
                    break;
                case "shape":
                    shape = parser.ReadIntTuple();
                    break;
                default:
                    throw Error(source, name, $"unexpected header key '{key}' in {header.Trim()}");
            }

            if (!parser.TryConsume(','))
            {
                parser.Expect('}');
                break;
            }
        }

        if (descr is null || fortran is null || shape is null)
            throw Error(source, name, $"the header lacks one of 'descr', 'fortran_order', 'shape': {header.Trim()}");
        return (descr, fortran.Value, shape);
    }

    internal static ModelFormatException Error(string source, string name, string message) =>
        new($"{source}: npy array '{name}': {message}");

    /// <summary>The small subset of Python literal syntax that .npy headers use.</summary>
    private ref struct PythonLiteralParser(string text, string name, string source)
    {
        private int _pos;

        public void Expect(char c)
        {
            SkipSpace();
            if (_pos >= text.Length || text[_pos] != c) throw Fail($"expected '{c}'");
            _pos++;
        }

        public bool TryConsume(char c)
        {
            SkipSpace();
            if (_pos < text.Length && text[_pos] == c)
            {
                _pos++;
                return true;
            }

            return false;
        }

        public string ReadString()
        {
            SkipSpace();
            if (_pos >= text.Length || (text[_pos] != '\'' && text[_pos] != '"')) throw Fail("expected a quoted string");
            char quote = text[_pos++];
            int end = text.IndexOf(quote, _pos);
            if (end < 0) throw Fail("unterminated string");
            var value = text[_pos..end];
            _pos = end + 1;
            return value;
        }

        public bool ReadBool()
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _pos, "True", 0, 4) == 0) { _pos += 4; return true; }
            if (string.CompareOrdinal(text, _pos, "False", 0, 5) == 0) { _pos += 5; return false; }
            throw Fail("expected True or False");
        }

        public int[] ReadIntTuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (!TryConsume(')'))
            {
                SkipSpace();
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                if (_pos < text.Length && text[_pos] == 'L') _pos++; // Python 2 long suffix
                var digits = text[start.._pos].TrimEnd('L');
                if (digits.Length == 0 || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var d))
                    throw Fail("expected a non-negative dimension that fits in 32 bits");
                dims.Add(d);
                if (!TryConsume(','))
                {
                    Expect(')');
                    break;
                }
            }

            return dims.ToArray();
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private readonly ModelFormatException Fail(string what) =>
            Error(source, name, $"header syntax error at character {_pos}: {what} in {text.Trim()}");
    }
}
