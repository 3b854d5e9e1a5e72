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
/// Snapshot layout (version 1): version byte, then the key states as <see cref="KeyStateBinary"/> writes them.
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
    public static long SizeOf(BucketSnapshot snapshot) => 1 + KeyStateBinary.SizeOf(snapshot.States);

    private static byte[] Write(BucketSnapshot snapshot) => KeyStateBinary.WriteExactly(SizeOf(snapshot), "session snapshot", writer => Write(writer, snapshot));

    /// <summary>
    /// Writes <paramref name="snapshot"/> as <see cref="ToBinary"/> does into the first <paramref name="size"/> bytes of
    /// <paramref name="buffer"/> (<paramref name="size"/> = <see cref="SizeOf"/>): for a writer that reuses its buffers.
    /// </summary>
    public static void WriteInto(BucketSnapshot snapshot, byte[] buffer, int size) =>
        KeyStateBinary.WriteInto(buffer, size, "session snapshot", writer => Write(writer, snapshot));

    private static void Write(BinaryWriter writer, BucketSnapshot snapshot)
    {
        writer.Write(Version);
        KeyStateBinary.Write(writer, snapshot.States);
    }

    private static BucketSnapshot Read(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        var version = reader.ReadByte();
        if (version != Version) throw new SerializationException($"session snapshot version {version} is not supported (this build reads {Version})");
        return new BucketSnapshot(KeyStateBinary.Read(reader, "session snapshot"));
    }

    private static byte[] WriteCount(BucketCountRecord record) => BitConverter.GetBytes(record.BucketCount);

    private static BucketCountRecord ReadCount(byte[] bytes) =>
        bytes.Length == sizeof(int) ? new BucketCountRecord(BitConverter.ToInt32(bytes)) : throw new SerializationException("bucket count record is not 4 bytes");
}
