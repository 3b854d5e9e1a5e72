using System.IO.Compression;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Archives;
using static LstmStream.Tests.Models.Archives.NpyReaderTests;

namespace LstmStream.Tests.Models.Archives;

public class NpzReaderTests
{
    private static MemoryStream Zip(params (string Name, byte[] Bytes, bool Compressed)[] members)
    {
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes, compressed) in members)
            {
                using var entry = zip.CreateEntry(name, compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression).Open();
                entry.Write(bytes);
            }
        }

        stream.Position = 0;
        return stream;
    }

    [Fact]
    public void Reads_several_stored_and_deflated_members()
    {
        using var zip = Zip(
            ("lstm/lstm_cell/kernel:0.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", Floats(false, 1, 2)), false),
            ("bias.npy", Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", Floats(true, 3, 4, 5)), true),
            ("m.npy", Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", Floats(false, 1, 3, 2, 4)), true));

        var tensors = NpzReader.Read(zip, "hand.npz");

        Assert.Equal(3, tensors.Count);
        Assert.Equal([1f, 2f], tensors["lstm/lstm_cell/kernel:0"].Values);
        Assert.Equal([1, 2], tensors["lstm/lstm_cell/kernel:0"].Shape);
        Assert.Equal([3f, 4f, 5f], tensors["bias"].Values);
        Assert.Equal([1f, 2f, 3f, 4f], tensors["m"].Values);
    }

    [Fact]
    public void Non_npy_member_is_rejected()
    {
        using var zip = Zip(("readme.txt", "hello"u8.ToArray(), false));

        var e = Assert.Throws<ModelFormatException>(() => NpzReader.Read(zip, "x.npz"));

        Assert.Contains("member 'readme.txt' is not a .npy array", e.Message);
    }

    [Fact]
    public void Broken_member_names_archive_and_member()
    {
        using var zip = Zip(("w.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new byte[3]), true));

        var e = Assert.Throws<ModelFormatException>(() => NpzReader.Read(zip, "x.npz"));

        Assert.StartsWith("x.npz!w.npy: npy array 'w': ", e.Message);
    }

    [Fact]
    public void Non_zip_is_rejected()
    {
        using var stream = new MemoryStream("this is not a zip file at all"u8.ToArray());

        var e = Assert.Throws<ModelFormatException>(() => NpzReader.Read(stream, "x.npz"));

        Assert.Contains("x.npz: npz: not a zip archive", e.Message);
    }
}
