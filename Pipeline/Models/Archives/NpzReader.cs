using System.IO.Compression;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Reads a NumPy <c>.npz</c> archive (<c>np.savez</c> or <c>np.savez_compressed</c>): a zip file whose
/// members <c>NAME.npy</c> each hold one array, returned under NAME.
/// </summary>
internal static class NpzReader
{
    public static IReadOnlyDictionary<string, NamedTensor> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads an archive from a seekable <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static IReadOnlyDictionary<string, NamedTensor> Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFormatException($"{source}: npz: not a zip archive: {e.Message}", e);
        }

        using (zip)
        {
            var tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/') && entry.Length == 0) continue; // a directory entry
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    throw new ModelFormatException($"{source}: npz: member '{entry.FullName}' is not a .npy array");
                var name = entry.FullName[..^4];
                if (entry.Length > Array.MaxLength)
                    throw new ModelFormatException($"{source}: npz: member '{entry.FullName}' is too large ({entry.Length} bytes)");
                var bytes = new byte[entry.Length];
                try
                {
                    using var member = entry.Open();
                    member.ReadExactly(bytes);
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
                {
                    throw new ModelFormatException($"{source}: npz: member '{entry.FullName}' cannot be read: {e.Message}", e);
                }

                if (!tensors.TryAdd(name, NpyReader.Read(bytes, name, $"{source}!{entry.FullName}")))
                    throw new ModelFormatException($"{source}: npz: array '{name}' appears twice");
            }

            return tensors;
        }
    }
}
