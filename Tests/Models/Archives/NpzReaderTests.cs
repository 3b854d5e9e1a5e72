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

    /// <summary>An array of zeros: compresses about a thousandfold, the shape of a decompression bomb.</summary>
    private static byte[] Zeros(string shape, int dataBytes) =>
        Npy($"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}", new byte[dataBytes]);

    [Fact]
    public void A_compressed_member_over_the_size_limit_is_refused_before_it_is_inflated()
    {
        // 128 × 20,000 float64 zeros: 20 MB inflated, about 20 kB in the archive; the limit is 1 MB.
        var member = Zeros("(128, 20000)", 128 * 20_000 * 8);
        using var zip = Zip(("kernel.npy", member, true));
        Assert.True(zip.Length < 100_000);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => NpzReader.Read(zip, "bomb.npz", maxBytes: 1_000_000));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.StartsWith($"bomb.npz!kernel.npy: npz: the member inflates to {member.Length} bytes, more than the 1000000 bytes left under the model size limit", e.Message);
        Assert.True(allocated < 1_000_000, $"reading the refused archive allocated {allocated} bytes");
    }

    [Fact]
    public void The_size_limit_counts_every_member_together()
    {
        var member = Zeros("(1000,)", 8000);
        using var zip = Zip(("a.npy", member, true), ("b.npy", member, true));

        var e = Assert.Throws<ModelFormatException>(() => NpzReader.Read(zip, "two.npz", maxBytes: 12_000));

        Assert.StartsWith($"two.npz!b.npy: npz: the member inflates to {member.Length} bytes, more than the {12_000 - member.Length} bytes left", e.Message);
        zip.Position = 0;
        Assert.Equal(2, NpzReader.Read(zip, "two.npz", maxBytes: 2 * member.Length).Count);
    }

    [Fact]
    public void A_member_whose_header_promises_less_than_the_archive_states_is_not_inflated()
    {
        // The header says 2 × 2 float64 (32 bytes); the member holds 10 MB of zeros after it.
        var bytes = Zeros("(2, 2)", 10_000_000);
        using var zip = Zip(("w.npy", bytes, true));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => NpzReader.Read(zip, "x.npz"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(
            $"x.npz!w.npy: npy array 'w': its header and dtype × shape describe {bytes.Length - 10_000_000 + 32} bytes but the archive " +
            $"states {bytes.Length} for the member; it was not inflated", e.Message);
        Assert.True(allocated < 1_000_000, $"reading the refused archive allocated {allocated} bytes");
    }

    [Fact]
    public void A_member_that_inflates_past_its_stated_size_is_read_only_to_its_stated_size()
    {
        // A member of 16 floats whose zip headers are patched to state the size of a 2-float array (what its own
        // .npy header, also patched, promises): the archive lies about the member; nothing past the stated size is
        // inflated, so the lie cannot take more memory than the limit allowed for.
        var honest = Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (16,), }", Enumerable.Range(1, 16).SelectMany(i => BitConverter.GetBytes((double)i)).ToArray());
        var small = Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,),  }", new byte[16]);
        Assert.Equal(honest.Length - 112, small.Length);
        var member = honest.ToArray();
        small.AsSpan(0, small.Length - 16).CopyTo(member); // the header of the small array, the data of the large one
        using var zip = Zip(("w.npy", member, true));
        var archive = zip.ToArray();
        PatchStatedSize(archive, (uint)honest.Length, (uint)small.Length);

        var tensors = NpzReader.Read(new MemoryStream(archive), "x.npz", maxBytes: small.Length);

        Assert.Equal([1f, 2f], tensors["w"].Values);
    }

    /// <summary>Rewrites the uncompressed size in every local and central zip header that states <paramref name="from"/>.</summary>
    private static void PatchStatedSize(byte[] archive, uint from, uint to)
    {
        int patched = 0;
        for (var i = 0; i + 30 <= archive.Length; i++)
        {
            uint signature = BitConverter.ToUInt32(archive, i);
            int at = signature switch { 0x04034b50 => i + 22, 0x02014b50 => i + 24, _ => -1 };
            if (at < 0 || BitConverter.ToUInt32(archive, at) != from) continue;
            BitConverter.TryWriteBytes(archive.AsSpan(at, 4), to);
            patched++;
        }

        Assert.Equal(2, patched);
    }
}
