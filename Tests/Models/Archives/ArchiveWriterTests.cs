using System.Buffers.Binary;
using LstmStream.Pipeline.Models.Archives;

namespace LstmStream.Tests.Models.Archives;

public class ArchiveWriterTests
{
    private static List<NamedTensor> Sample() =>
    [
        ArchiveTestData.Random(new Random(1), "layer.0/kernel", 3, 5, 8),
        new("scalar", [], [float.MinValue]),
        new("empty", [2, 0], []),
        new("special", [4], [float.PositiveInfinity, -0f, float.Epsilon, float.NaN]),
        ArchiveTestData.Random(new Random(2), "cube", 1, 2, 3, 4),
    ];

    private static void AssertSame(IReadOnlyList<NamedTensor> written, IReadOnlyDictionary<string, NamedTensor> read)
    {
        Assert.Equal(written.Count, read.Count);
        foreach (var t in written)
        {
            Assert.Equal(t.Shape, read[t.Name].Shape);
            Assert.Equal(t.Values.Select(BitConverter.SingleToInt32Bits), read[t.Name].Values.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void Safetensors_round_trip_is_bit_exact_and_aligned()
    {
        var tensors = Sample();
        using var stream = new MemoryStream();
        SafetensorsWriter.Write(stream, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = stream.ToArray();

        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8);
        AssertSame(tensors, SafetensorsReader.Read(bytes, "mem"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Npz_round_trip_is_bit_exact(bool compressed)
    {
        var tensors = Sample();
        using var stream = new MemoryStream();
        NpzWriter.Write(stream, tensors, compressed);
        stream.Position = 0;

        AssertSame(tensors, NpzReader.Read(stream, "mem"));
    }

    [Fact]
    public void Npy_data_starts_on_a_64_byte_boundary()
    {
        using var stream = new MemoryStream();
        NpyWriter.Write(stream, new NamedTensor("x", [3], [1, 2, 3]));
        var bytes = stream.ToArray();

        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal((byte)'\n', bytes[10 + headerLength - 1]);
        Assert.Equal(10 + headerLength + 12, bytes.Length);
    }

    [Fact]
    public void Duplicate_names_are_refused()
    {
        var t = new NamedTensor("a", [1], [1]);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(new MemoryStream(), [t, t]));
        Assert.Throws<ArgumentException>(() => NpzWriter.Write(new MemoryStream(), [t, t]));
    }
}
