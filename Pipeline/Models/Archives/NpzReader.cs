using System.IO.Compression;

namespace LstmStream.Pipeline.Models.Archives;

/// <summary>
/// Reads a NumPy <c>.npz</c> archive (<c>np.savez</c> or <c>np.savez_compressed</c>): a zip file whose
/// members <c>NAME.npy</c> each hold one array, returned under NAME.
/// <para>
/// A compressed archive can inflate to far more than its file size. Before a member is inflated, the size its zip
/// entry states and the size its .npy header describes (dtype × shape) must agree, and the members together must
/// stay within <c>maxBytes</c>; a member never inflates past the size it stated (the zip reader stops there). So
/// memory is bounded by the limit, whatever the archive claims.
/// </para>
/// </summary>
internal static class NpzReader
{
    public static IReadOnlyDictionary<string, NamedTensor> Read(string path, long maxBytes = ModelLoadOptions.DefaultMaxModelBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Read(stream, path, maxBytes);
    }

    /// <summary>Reads an archive from a seekable <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    /// <param name="maxBytes">Most bytes all members may inflate to together.</param>
    public static IReadOnlyDictionary<string, NamedTensor> Read(Stream stream, string source, long maxBytes = ModelLoadOptions.DefaultMaxModelBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
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
            long inflated = 0;
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/') && entry.Length == 0) continue; // a directory entry
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    throw new ModelFormatException($"{source}: npz: member '{entry.FullName}' is not a .npy array");
                var name = entry.FullName[..^4];
                byte[] bytes;
                try
                {
                    bytes = Inflate(entry, name, source, maxBytes - inflated);
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
                {
                    throw new ModelFormatException($"{source}: npz: member '{entry.FullName}' cannot be read: {e.Message}", e);
                }

                inflated += bytes.Length;
                if (!tensors.TryAdd(name, NpyReader.Read(bytes, name, $"{source}!{entry.FullName}")))
                    throw new ModelFormatException($"{source}: npz: array '{name}' appears twice");
            }

            return tensors;
        }
    }

    /// <summary>
    /// Inflates one member after checking what it will take: the .npy header is read first, and the member's
    /// stated size, the size the header describes and the bytes left under the limit must all agree.
    /// </summary>
    private static byte[] Inflate(ZipArchiveEntry entry, string name, string source, long budget)
    {
        var member = $"{source}!{entry.FullName}";
        using var stream = entry.Open();
        var head = new byte[Math.Min(NpyReader.PreambleBytes, Math.Max(entry.Length, 0))];
        int filled = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (filled < head.Length || head.Length < 10) return head[..filled]; // too short for a .npy preamble: the .npy reader says why

        long? described = NpyReader.DescribedSize(head, name, member, out int headerEnd);
        if (described is null)
        {
            if (headerEnd > entry.Length)
                throw new ModelFormatException($"{member}: npz: the .npy header ({headerEnd} bytes) is longer than the member's stated size of {entry.Length} bytes");
            if (headerEnd > budget) throw OverLimit(member, headerEnd, budget);
            Array.Resize(ref head, headerEnd);
            stream.ReadExactly(head, filled, headerEnd - filled);
            filled = headerEnd;
            described = NpyReader.DescribedSize(head, name, member, out _);
        }

        long size = described!.Value;
        if (size != entry.Length)
            throw NpyReader.Error(member, name,
                $"its header and dtype × shape describe {size} bytes but the archive states {entry.Length} for the member; it was not inflated");
        if (size > budget) throw OverLimit(member, size, budget);
        if (size > Array.MaxLength) throw new ModelFormatException($"{member}: npz: the member is too large ({size} bytes)");

        var bytes = new byte[size];
        head.AsSpan(0, filled).CopyTo(bytes);
        stream.ReadExactly(bytes, filled, bytes.Length - filled);
        return bytes;
    }

    private static ModelFormatException OverLimit(string member, long size, long budget) =>
        new($"{member}: npz: the member inflates to {size} bytes, more than the {budget} bytes left under the model size limit " +
            "(ModelLoadOptions.MaxModelBytes; --max-model-bytes; LstmStream:Model:MaxBytes)");
}
