using System.IO.Compression;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>Writes tensors as a NumPy <c>.npz</c> archive (one <c>NAME.npy</c> member each), like <c>np.savez</c> or, compressed, <c>np.savez_compressed</c>.</summary>
internal static class NpzWriter
{
    public static void Write(string path, IEnumerable<NamedTensor> tensors, bool compressed = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.Create(path);
        Write(stream, tensors, compressed);
    }

    public static void Write(Stream stream, IEnumerable<NamedTensor> tensors, bool compressed = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var tensor in tensors)
        {
            if (!names.Add(tensor.Name)) throw new ArgumentException($"tensor '{tensor.Name}' is given twice", nameof(tensors));
            var entry = zip.CreateEntry(tensor.Name + ".npy", compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var member = entry.Open();
            NpyWriter.Write(member, tensor);
        }
    }
}
