using System.Buffers.Binary;
using System.Text;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;

namespace LstmStream.Tests.Models.Archives;

public class SafetensorsReaderTests
{
    /// <summary>A safetensors file built by hand: header length, the JSON text as given, the data bytes.</summary>
    private static byte[] File(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    /// <summary>Reads <paramref name="bytes"/> from memory, or from a file named <paramref name="name"/> in a fresh folder.</summary>
    private static IReadOnlyDictionary<string, NamedTensor> Read(byte[] bytes, string name, bool viaFile)
    {
        if (!viaFile) return SafetensorsReader.Read(bytes, name);
        var dir = Path.Combine(ArchiveTestData.TempFolder, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, name);
            System.IO.File.WriteAllBytes(path, bytes);
            return SafetensorsReader.Read(path);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static byte[] Bytes(params ushort[] halves)
    {
        var b = new byte[2 * halves.Length];
        for (var i = 0; i < halves.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), halves[i]);
        return b;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_every_float_dtype_and_skips_metadata(bool viaFile)
    {
        var f64 = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(f64, 0.1);
        BinaryPrimitives.WriteDoubleLittleEndian(f64.AsSpan(8), -1e300);
        var f32 = new byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(f32, 2.5f);
        // f16: 1.0, -2.0, 0x3555 = 0.333251953125; bf16: 1.0, -3.0, 0x4049 = 3.140625
        byte[] data = [.. Bytes(0x3C00, 0xC000, 0x3555), .. Bytes(0x3F80, 0xC040, 0x4049), .. f64, .. f32];
        var header = """
            {"__metadata__":{"format":"pt"},
             "h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},
             "b":{"dtype":"BF16","shape":[1,3],"data_offsets":[6,12]},
             "d":{"dtype":"F64","shape":[2,1],"data_offsets":[12,28]},
             "s":{"dtype":"F32","shape":[],"data_offsets":[28,32]}}
            """;

        var tensors = Read(File(header, data), "hand.safetensors", viaFile);

        Assert.Equal(["b", "d", "h", "s"], tensors.Keys.Order());
        Assert.Equal([1f, -2f, 0.333251953125f], tensors["h"].Values);
        Assert.Equal([3], tensors["h"].Shape);
        Assert.Equal([1f, -3f, 3.140625f], tensors["b"].Values);
        Assert.Equal([1, 3], tensors["b"].Shape);
        Assert.Equal([(float)0.1, float.NegativeInfinity], tensors["d"].Values);
        Assert.Equal([2.5f], tensors["s"].Values);
        Assert.Empty(tensors["s"].Shape);
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", 8, "'x' has dtype I64")]
    [InlineData("""{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [InlineData("""{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "run past the 8-byte data block")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlap")]
    [InlineData("""{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "shape entry 0 is -2")]
    [InlineData("""{"x":{"dtype":"F32","data_offsets":[0,8]}}""", 8, "'x': missing or non-array 'shape'")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "not a valid [begin, end] range")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],""", 8, "not valid JSON")]
    [InlineData("""[1,2]""", 0, "expected an object")]
    public void Malformed_headers_are_reported_with_the_tensor_name(string header, int dataBytes, string expected)
    {
        var bytes = File(header, new byte[dataBytes]);

        foreach (var viaFile in (bool[])[false, true])
        {
            var e = Assert.Throws<ModelFormatException>(() => Read(bytes, "bad.safetensors", viaFile));

            Assert.Contains("bad.safetensors: safetensors: ", e.Message);
            Assert.Contains(expected, e.Message);
        }
    }

    [Fact]
    public void Too_short_file_is_rejected()
    {
        foreach (var viaFile in (bool[])[false, true])
        {
            var e = Assert.Throws<ModelFormatException>(() => Read(new byte[5], "tiny.safetensors", viaFile));
            Assert.Contains("too short", e.Message);
        }
    }

    [Fact]
    public void Header_length_past_the_end_is_rejected()
    {
        var bytes = File("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);

        foreach (var viaFile in (bool[])[false, true])
        {
            var e = Assert.Throws<ModelFormatException>(() => Read(bytes, "cut.safetensors", viaFile));
            Assert.Contains("header length 1000 runs past the end", e.Message);
        }
    }
}
