using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Stores <see cref="BucketSnapshot"/> and <see cref="BucketCountRecord"/> in a compact binary form: every float is
/// written as its four raw bytes (little-endian), so a stored state comes back bit for bit (NaN payloads, negative
/// zero, subnormals included). Bound to both types in <see cref="SessionStoreConfig"/>.
/// <para>
/// Snapshot layout (version 1): version byte; the distinct model identities (count, then each as a length-prefixed
/// UTF-8 string); the key count; per key: the key, the index of its model identity, a flag and the last seq, the
/// layer count and per layer the length and raw floats of <c>c</c>, then of <c>h</c>.
/// </para>
/// </summary>
public sealed class SessionStateSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer id written beside each stored snapshot; never change it (stored data names it).</summary>
    public const int SerializerId = 47_120;

    private const string SnapshotManifest = "bucket-snapshot";
    private const string BucketCountManifest = "bucket-count";
    private const byte Version = 1;

    public SessionStateSerializer(ExtendedActorSystem system) : base(system)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("session snapshots are written little-endian");
    }

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => o switch
    {
        BucketSnapshot => SnapshotManifest,
        BucketCountRecord => BucketCountManifest,
        _ => throw new ArgumentException($"{nameof(SessionStateSerializer)} cannot store a {o.GetType()}", nameof(o)),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        BucketSnapshot snapshot => Write(snapshot),
        BucketCountRecord record => WriteCount(record),
        _ => throw new ArgumentException($"{nameof(SessionStateSerializer)} cannot store a {obj.GetType()}", nameof(obj)),
    };

    public override object FromBinary(byte[] bytes, string manifest) => manifest switch
    {
        SnapshotManifest => Read(bytes),
        BucketCountManifest => ReadCount(bytes),
        _ => throw new SerializationException($"unknown session store manifest '{manifest}'"),
    };

    /// <summary>The exact size in bytes of <paramref name="snapshot"/> once stored (what a checkpoint writes), computed without writing it.</summary>
    public static long SizeOf(BucketSnapshot snapshot)
    {
        var identities = new HashSet<string>(StringComparer.Ordinal);
        long size = 1 + 4 + 4;
        foreach (var state in snapshot.States)
        {
            if (identities.Add(state.ModelIdentity)) size += StringSize(state.ModelIdentity);
            size += StringSize(state.Key) + 4 + 1 + 8 + 4;
            for (var layer = 0; layer < state.C.Length; layer++) size += 8 + 4L * (state.C[layer].Length + state.H[layer].Length);
        }

        return size;
    }

    private static long StringSize(string s)
    {
        var bytes = Encoding.UTF8.GetByteCount(s);
        var prefix = 1;
        for (var rest = (uint)bytes >> 7; rest != 0; rest >>= 7) prefix++;
        return prefix + bytes;
    }

    private static byte[] Write(BucketSnapshot snapshot)
    {
        var identities = new List<string>();
        var identityIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var state in snapshot.States)
        {
            if (identityIndex.TryAdd(state.ModelIdentity, identities.Count)) identities.Add(state.ModelIdentity);
        }

        using var buffer = new MemoryStream((int)Math.Min(SizeOf(snapshot), Array.MaxLength));
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Version);
            writer.Write(identities.Count);
            foreach (var identity in identities) writer.Write(identity);
            writer.Write(snapshot.States.Count);
            foreach (var state in snapshot.States)
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

        return buffer.ToArray();
    }

    private static void WriteFloats(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static BucketSnapshot Read(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        var version = reader.ReadByte();
        if (version != Version) throw new SerializationException($"session snapshot version {version} is not supported (this build reads {Version})");
        var identities = new string[ReadCount(reader, "model identity")];
        for (var i = 0; i < identities.Length; i++) identities[i] = reader.ReadString();
        var states = new KeyState[ReadCount(reader, "key")];
        for (var i = 0; i < states.Length; i++)
        {
            var key = reader.ReadString();
            var identity = reader.ReadInt32();
            if ((uint)identity >= (uint)identities.Length)
                throw new SerializationException($"session snapshot: key '{key}' names model identity {identity} of {identities.Length}");
            var hasSeq = reader.ReadBoolean();
            var seq = reader.ReadInt64();
            var layers = ReadCount(reader, "layer");
            var c = new float[layers][];
            var h = new float[layers][];
            for (var layer = 0; layer < layers; layer++)
            {
                c[layer] = ReadFloats(reader);
                h[layer] = ReadFloats(reader);
            }

            states[i] = new KeyState(identities[identity], key, c, h) { LastSeq = hasSeq ? seq : null };
        }

        return new BucketSnapshot(states);
    }

    private static float[] ReadFloats(BinaryReader reader)
    {
        var values = new float[ReadCount(reader, "float")];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.Read(bytes) != bytes.Length) throw new SerializationException("session snapshot ends inside a state row");
        return values;
    }

    private static int ReadCount(BinaryReader reader, string what)
    {
        var count = reader.ReadInt32();
        if (count < 0 || count > reader.BaseStream.Length - reader.BaseStream.Position + 1)
            throw new SerializationException($"session snapshot: {what} count {count} does not fit the {reader.BaseStream.Length} bytes stored");
        return count;
    }

    private static byte[] WriteCount(BucketCountRecord record) => BitConverter.GetBytes(record.BucketCount);

    private static BucketCountRecord ReadCount(byte[] bytes) =>
        bytes.Length == sizeof(int) ? new BucketCountRecord(BitConverter.ToInt32(bytes)) : throw new SerializationException("bucket count record is not 4 bytes");
}
