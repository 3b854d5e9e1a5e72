using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// The binary form of a list of <see cref="KeyState"/>s, shared by the stored snapshot (<see cref="SessionStateSerializer"/>)
/// and the bucket messages between nodes (<c>Cluster.ClusterMessageSerializer</c>): the distinct model identities (count,
/// then each as a length-prefixed UTF-8 string); the key count; per key: the key, the index of its model identity, a flag
/// and the last seq, the layer count and per layer the length and raw little-endian floats of <c>c</c>, then of <c>h</c>.
/// Every float comes back bit for bit (NaN payloads, negative zero, subnormals).
/// </summary>
public static class KeyStateBinary
{
    /// <summary>The exact size in bytes of <see cref="Write"/>'s output for <paramref name="states"/>.</summary>
    public static long SizeOf(IReadOnlyList<KeyState> states)
    {
        var identities = new HashSet<string>(StringComparer.Ordinal);
        long size = 4 + 4;
        foreach (var state in states)
        {
            if (identities.Add(state.ModelIdentity)) size += StringSize(state.ModelIdentity);
            size += StringSize(state.Key) + 4 + 1 + 8 + 4;
            for (var layer = 0; layer < state.C.Length; layer++) size += 8 + 4L * (state.C[layer].Length + state.H[layer].Length);
        }

        return size;
    }

    /// <summary>Bytes of a string written by <see cref="BinaryWriter.Write(string)"/>: its 7-bit length prefix and its UTF-8 bytes.</summary>
    public static long StringSize(string s)
    {
        var bytes = Encoding.UTF8.GetByteCount(s);
        var prefix = 1;
        for (var rest = (uint)bytes >> 7; rest != 0; rest >>= 7) prefix++;
        return prefix + bytes;
    }

    /// <summary>
    /// Runs <paramref name="write"/> over a buffer of exactly <paramref name="size"/> bytes and returns that buffer: one
    /// allocation of the final size, no growing and no copy at the end (a bucket's snapshot is megabytes at 100,000 keys).
    /// </summary>
    /// <param name="what">What is written, named when <paramref name="write"/> wrote another number of bytes.</param>
    public static byte[] WriteExactly(long size, string what, Action<BinaryWriter> write)
    {
        if (size > Array.MaxLength) throw new SerializationException($"{what} is {size:N0} bytes, more than an array holds");
        var buffer = new byte[size];
        WriteInto(buffer, (int)size, what, write);
        return buffer;
    }

    /// <summary>Runs <paramref name="write"/> over the first <paramref name="size"/> bytes of <paramref name="buffer"/>, which it must fill exactly.</summary>
    public static void WriteInto(byte[] buffer, int size, string what, Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream(buffer, 0, size);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) write(writer);
        if (stream.Position != size) throw new InvalidOperationException($"{what}: wrote {stream.Position} bytes, expected {size}");
    }

    public static void Write(BinaryWriter writer, IReadOnlyList<KeyState> states)
    {
        var identities = new List<string>();
        var identityIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var state in states)
        {
            if (identityIndex.TryAdd(state.ModelIdentity, identities.Count)) identities.Add(state.ModelIdentity);
        }

        writer.Write(identities.Count);
        foreach (var identity in identities) writer.Write(identity);
        writer.Write(states.Count);
        foreach (var state in states)
        {
            writer.Write(state.Key);
            writer.Write(identityIndex[state.ModelIdentity]);
            writer.Write(state.LastSeq.HasValue);
            writer.Write(state.LastSeq ?? 0L);
            writer.Write(state.C.Length);
            for (var layer = 0; layer < state.C.Length; layer++)
            {
                WriteFloats(writer, state.C[layer]);
                WriteFloats(writer, state.H[layer]);
            }
        }
    }

    /// <param name="what">What is read, named in the errors (<c>session snapshot</c>, a message's name).</param>
    public static KeyState[] Read(BinaryReader reader, string what)
    {
        var identities = new string[ReadCount(reader, what, "model identity")];
        for (var i = 0; i < identities.Length; i++) identities[i] = reader.ReadString();
        var states = new KeyState[ReadCount(reader, what, "key")];
        for (var i = 0; i < states.Length; i++)
        {
            var key = reader.ReadString();
            var identity = reader.ReadInt32();
            if ((uint)identity >= (uint)identities.Length)
                throw new SerializationException($"{what}: key '{key}' names model identity {identity} of {identities.Length}");
            var hasSeq = reader.ReadBoolean();
            var seq = reader.ReadInt64();
            var layers = ReadCount(reader, what, "layer");
            var c = new float[layers][];
            var h = new float[layers][];
            for (var layer = 0; layer < layers; layer++)
            {
                c[layer] = ReadFloats(reader, what);
                h[layer] = ReadFloats(reader, what);
            }

            states[i] = new KeyState(identities[identity], key, c, h) { LastSeq = hasSeq ? seq : null };
        }

        return states;
    }

    private static void WriteFloats(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static float[] ReadFloats(BinaryReader reader, string what)
    {
        var values = new float[ReadCount(reader, what, "float")];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.Read(bytes) != bytes.Length) throw new SerializationException($"{what} ends inside a state row");
        return values;
    }

    /// <summary>A count, checked against the bytes left (a count the data cannot hold is an error, not an allocation).</summary>
    public static int ReadCount(BinaryReader reader, string what, string counted)
    {
        var count = reader.ReadInt32();
        if (count < 0 || count > reader.BaseStream.Length - reader.BaseStream.Position + 1)
            throw new SerializationException($"{what}: {counted} count {count} does not fit the {reader.BaseStream.Length} bytes given");
        return count;
    }
}
