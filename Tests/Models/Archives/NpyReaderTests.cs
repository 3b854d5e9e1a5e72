using System.Buffers.Binary;
using System.Text;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;

namespace LstmStream.Tests.Models.Archives;

public class NpyReaderTests
{
    /// <summary>A .npy array built by hand from a header dict text and raw data bytes.</summary>
    internal static byte[] Npy(string dict, byte[] data, int major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        var header = dict + new string(' ', (64 - (prefix + dict.Length + 1) % 64) % 64) + "\n";
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add((byte)major);
        bytes.Add(0);
        var length = new byte[prefix - 8];
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)headerBytes.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)headerBytes.Length);
        bytes.AddRange(length);
        bytes.AddRange(headerBytes);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    internal static byte[] Floats(bool bigEndian, params float[] values)
    {
        var b = new byte[4 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (bigEndian) BinaryPrimitives.WriteSingleBigEndian(b.AsSpan(4 * i), values[i]);
            else BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        }

        return b;
    }

    private static byte[] Doubles(bool bigEndian, params double[] values)
    {
        var b = new byte[8 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (bigEndian) BinaryPrimitives.WriteDoubleBigEndian(b.AsSpan(8 * i), values[i]);
            else BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8 * i), values[i]);
        }

        return b;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_float32_in_either_byte_order(bool bigEndian)
    {
        var dict = $"{{'descr': '{(bigEndian ? '>' : '<')}f4', 'fortran_order': False, 'shape': (2, 3), }}";
        var tensor = NpyReader.Read(Npy(dict, Floats(bigEndian, 1, 2, 3, 4, 5, 6.5f)), "w", "t.npy");

        Assert.Equal("w", tensor.Name);
        Assert.Equal([2, 3], tensor.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6.5f], tensor.Values);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_float64_in_either_byte_order(bool bigEndian)
    {
        var dict = $"{{'descr': '{(bigEndian ? '>' : '<')}f8', 'fortran_order': False, 'shape': (3,), }}";
        var tensor = NpyReader.Read(Npy(dict, Doubles(bigEndian, 0.1, -2.25, 1e-3)), "v", "t.npy");

        Assert.Equal([(float)0.1, -2.25f, (float)1e-3], tensor.Values);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_float16_in_either_byte_order(bool bigEndian)
    {
        ushort[] bits = [0x3C00, 0xC500, 0x0001]; // 1, -5, smallest subnormal 2^-24
        var data = new byte[6];
        for (var i = 0; i < 3; i++)
        {
            if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2 * i), bits[i]);
            else BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), bits[i]);
        }

        var dict = $"{{'descr': '{(bigEndian ? '>' : '<')}f2', 'fortran_order': False, 'shape': (3,), }}";
        var tensor = NpyReader.Read(Npy(dict, data), "h", "t.npy");

        Assert.Equal([1f, -5f, MathF.Pow(2, -24)], tensor.Values);
    }

    [Fact]
    public void Fortran_order_matrix_is_transposed_to_row_major()
    {
        // The 2 × 3 matrix [[1, 2, 3], [4, 5, 6]] stored column by column.
        var dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
        var tensor = NpyReader.Read(Npy(dict, Floats(false, 1, 4, 2, 5, 3, 6)), "m", "t.npy");

        Assert.Equal([2, 3], tensor.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], tensor.Values);
    }

    [Fact]
    public void Fortran_order_rank_3_is_reordered()
    {
        // Element (a, b, c) of a 2 × 3 × 4 array has value 100a + 10b + c; Fortran order varies a fastest.
        var fortran = new List<float>();
        for (var c = 0; c < 4; c++)
            for (var b = 0; b < 3; b++)
                for (var a = 0; a < 2; a++) fortran.Add(100 * a + 10 * b + c);
        var dict = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3, 4), }";

        var tensor = NpyReader.Read(Npy(dict, Floats(true, fortran.ToArray())), "t", "t.npy");

        var expected = new List<float>();
        for (var a = 0; a < 2; a++)
            for (var b = 0; b < 3; b++)
                for (var c = 0; c < 4; c++) expected.Add(100 * a + 10 * b + c);
        Assert.Equal(expected, tensor.Values);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Reads_version_2_and_3_headers(int major)
    {
        var dict = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (), }";
        var tensor = NpyReader.Read(Npy(dict, Floats(false, 7.5f), major), "s", "t.npy");

        Assert.Empty(tensor.Shape);
        Assert.Equal([7.5f], tensor.Values);
    }

    [Theory]
    [InlineData("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8, "dtype '<i4' is not supported")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, "needs 12 data bytes but the array holds 8")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, }", 8, "lacks one of 'descr', 'fortran_order', 'shape'")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, "expected True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8, "expected a non-negative dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 8, "unexpected header key 'extra'")]
    public void Malformed_arrays_are_reported_with_the_array_name(string dict, int dataBytes, string expected)
    {
        var e = Assert.Throws<ModelFormatException>(() => NpyReader.Read(Npy(dict, new byte[dataBytes]), "lstm/kernel", "m.npz!lstm/kernel.npy"));

        Assert.StartsWith("m.npz!lstm/kernel.npy: npy array 'lstm/kernel': ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Bad_magic_and_version_are_rejected()
    {
        var good = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]);
        var badMagic = (byte[])good.Clone();
        badMagic[1] = (byte)'X';
        var badVersion = (byte[])good.Clone();
        badVersion[6] = 4;

        Assert.Contains("magic", Assert.Throws<ModelFormatException>(() => NpyReader.Read(badMagic, "a", "f")).Message);
        Assert.Contains("version 4.0 is not supported", Assert.Throws<ModelFormatException>(() => NpyReader.Read(badVersion, "a", "f")).Message);
        Assert.Contains("runs past the end", Assert.Throws<ModelFormatException>(() => NpyReader.Read(good.AsSpan(0, 30), "a", "f")).Message);
    }
}
