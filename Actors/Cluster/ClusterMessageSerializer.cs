using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Actors.Cluster.NodeStatusActor;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Actors.Cluster;

/// <summary>
/// The binary form of every LstmStream message that crosses nodes in cluster mode (bound in the one <c>AddAkka</c> call
/// by <see cref="BoundTypes"/>), instead of Akka's default JSON: little-endian throughout, strings (keys, model
/// identities, actor paths) as a 7-bit length prefix and UTF-8, floats as their four raw bytes (NaN payloads, infinities,
/// negative zero and subnormals come back bit for bit), <c>seq</c> and tags as int64, every array prefixed by its length.
/// <para>
/// The manifest names the message and its layout's version (<c>RR1</c>: <see cref="RoutedRecords"/>, version 1); a
/// manifest this build does not know (another LstmStream version on the other node) is refused with an error naming it
/// and the ones known. Layouts (version 1):
/// <list type="bullet">
/// <item><c>RR1</c> <see cref="RoutedRecords"/>: bucket, reply-to actor path, width, count, then the columns: count keys,
/// count seq, count flag bytes, count tags, count × width floats.</item>
/// <item><c>RO2</c> <see cref="RoutedOutputs"/>: the owner's round (<see cref="RoutedOutputs.OwnerRound"/>), width, count, the
/// same columns. <c>CW1</c> <see cref="CheckpointWritten"/>: round. <c>ES1</c> <see cref="EverythingStepped"/>: the owner's
/// actor path; <c>EN1</c> <see cref="EverythingSteppedNoted"/>: nothing.</item>
/// <item><c>LK1</c> <see cref="LoadKeys"/>: bucket, key count, keys. <c>LD1</c> <see cref="LoadedKeys"/>: bucket, the
/// states as <see cref="KeyStateBinary"/> writes them. <c>AC2</c> <see cref="ApplyChanges"/>: bucket, live (one byte),
/// changed, the states to save, count and keys to delete.</item>
/// <item><c>SB1</c> <see cref="SaveBucket"/>: bucket. <c>BS1</c> <see cref="BucketSaved"/>: bucket, written, keys, bytes.
/// <c>GK1</c> <see cref="GetStoredKey"/>: bucket, key. <c>SK1</c> <see cref="StoredKey"/>: key, its state as a list of
/// none or one. <c>HO1</c> <see cref="HandOffBucket"/>: nothing.</item>
/// <item><c>GM1</c> <see cref="GetBucketMemory"/>: bucket. <c>BM1</c> <see cref="BucketMemory"/>: bucket, held states, live keys.</item>
/// <item><c>NS1</c> <see cref="GetNodeStatus"/>: nothing. <c>NR1</c> <see cref="NodeStatus"/>: live keys.</item>
/// </list>
/// A message over the transport's frame (<see cref="RoutedMessageSize.MaxFrameBytes"/>) is refused when written, with an
/// error naming it and its size.
/// </para>
/// </summary>
public sealed class ClusterMessageSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer's id on the wire; never change it (nodes of different builds must agree).</summary>
    public const int SerializerId = 47_121;

    /// <summary>The name it is registered under.</summary>
    public const string Name = "lstmstream-cluster";

    private const string RoutedRecordsManifest = "RR1";
    private const string RoutedOutputsManifest = "RO2";
    private const string CheckpointWrittenManifest = "CW1";
    private const string EverythingSteppedManifest = "ES1";
    private const string EverythingSteppedNotedManifest = "EN1";
    private const string LoadKeysManifest = "LK1";
    private const string LoadedKeysManifest = "LD1";
    private const string ApplyChangesManifest = "AC2";
    private const string GetBucketMemoryManifest = "GM1";
    private const string BucketMemoryManifest = "BM1";
    private const string SaveBucketManifest = "SB1";
    private const string BucketSavedManifest = "BS1";
    private const string GetStoredKeyManifest = "GK1";
    private const string StoredKeyManifest = "SK1";
    private const string HandOffBucketManifest = "HO1";
    private const string GetNodeStatusManifest = "NS1";
    private const string NodeStatusManifest = "NR1";

    private static readonly string[] Manifests =
    [
        RoutedRecordsManifest, RoutedOutputsManifest, LoadKeysManifest, LoadedKeysManifest, ApplyChangesManifest, SaveBucketManifest,
        BucketSavedManifest, GetStoredKeyManifest, StoredKeyManifest, HandOffBucketManifest, GetNodeStatusManifest, NodeStatusManifest,
        GetBucketMemoryManifest, BucketMemoryManifest, CheckpointWrittenManifest, EverythingSteppedManifest, EverythingSteppedNotedManifest,
    ];

    /// <summary>The message types this serializer writes: the ones bound to it.</summary>
    public static IReadOnlyList<Type> BoundTypes { get; } =
    [
        typeof(RoutedRecords), typeof(RoutedOutputs), typeof(LoadKeys), typeof(LoadedKeys), typeof(ApplyChanges), typeof(SaveBucket),
        typeof(BucketSaved), typeof(GetStoredKey), typeof(StoredKey), typeof(HandOffBucket), typeof(GetNodeStatus), typeof(NodeStatus),
        typeof(GetBucketMemory), typeof(BucketMemory), typeof(CheckpointWritten), typeof(EverythingStepped), typeof(EverythingSteppedNoted),
    ];

    public ClusterMessageSerializer(ExtendedActorSystem system) : base(system)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("cluster messages are written little-endian");
    }

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => o switch
    {
        RoutedRecords => RoutedRecordsManifest,
        RoutedOutputs => RoutedOutputsManifest,
        LoadKeys => LoadKeysManifest,
        LoadedKeys => LoadedKeysManifest,
        ApplyChanges => ApplyChangesManifest,
        SaveBucket => SaveBucketManifest,
        BucketSaved => BucketSavedManifest,
        GetStoredKey => GetStoredKeyManifest,
        StoredKey => StoredKeyManifest,
        HandOffBucket => HandOffBucketManifest,
        GetNodeStatus => GetNodeStatusManifest,
        NodeStatus => NodeStatusManifest,
        GetBucketMemory => GetBucketMemoryManifest,
        BucketMemory => BucketMemoryManifest,
        CheckpointWritten => CheckpointWrittenManifest,
        EverythingStepped => EverythingSteppedManifest,
        EverythingSteppedNoted => EverythingSteppedNotedManifest,
        _ => throw new ArgumentException($"{nameof(ClusterMessageSerializer)} cannot write a {o?.GetType().FullName ?? "null"}", nameof(o)),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        RoutedRecords m => WriteRouted(m),
        RoutedOutputs m => WriteRouted(m),
        LoadKeys m => Write(m, 4 + StringsSize(m.Keys), w =>
        {
            w.Write(m.Bucket);
            WriteStrings(w, m.Keys);
        }),
        LoadedKeys m => Write(m, 4 + KeyStateBinary.SizeOf(m.States), w =>
        {
            w.Write(m.Bucket);
            KeyStateBinary.Write(w, m.States);
        }),
        ApplyChanges m => Write(m, 4 + 1 + 4 + KeyStateBinary.SizeOf(m.Save) + StringsSize(m.Delete), w =>
        {
            w.Write(m.Bucket);
            w.Write(m.Live);
            w.Write(m.Changed);
            KeyStateBinary.Write(w, m.Save);
            WriteStrings(w, m.Delete);
        }),
        SaveBucket m => BitConverter.GetBytes(m.Bucket),
        BucketSaved m => Write(m, 4 + 1 + 4 + 8, w =>
        {
            w.Write(m.Bucket);
            w.Write(m.Written);
            w.Write(m.Keys);
            w.Write(m.Bytes);
        }),
        GetStoredKey m => Write(m, 4 + KeyStateBinary.StringSize(m.Key), w =>
        {
            w.Write(m.Bucket);
            w.Write(m.Key);
        }),
        StoredKey m => Write(m, KeyStateBinary.StringSize(m.Key) + KeyStateBinary.SizeOf(StatesOf(m)), w =>
        {
            w.Write(m.Key);
            KeyStateBinary.Write(w, StatesOf(m));
        }),
        HandOffBucket or GetNodeStatus or EverythingSteppedNoted => [],
        EverythingStepped m => WritePath(m, m.Owner),
        NodeStatus m => BitConverter.GetBytes(m.LiveKeys),
        CheckpointWritten m => BitConverter.GetBytes(m.Round),
        GetBucketMemory m => BitConverter.GetBytes(m.Bucket),
        BucketMemory m => Write(m, 4 + 4 + 4, w =>
        {
            w.Write(m.Bucket);
            w.Write(m.HeldStates);
            w.Write(m.LiveKeys);
        }),
        _ => throw new ArgumentException($"{nameof(ClusterMessageSerializer)} cannot write a {obj?.GetType().FullName ?? "null"}", nameof(obj)),
    };

    private static ApplyChanges ReadApplyChanges(BinaryReader reader, string manifest)
    {
        var bucket = reader.ReadInt32();
        var live = reader.ReadBoolean();
        var changed = reader.ReadInt32();
        return new ApplyChanges(bucket, KeyStateBinary.Read(reader, nameof(ApplyChanges)), ReadStrings(reader, manifest)) { Live = live, Changed = changed };
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (Array.IndexOf(Manifests, manifest) < 0)
        {
            throw new SerializationException(
                $"{nameof(ClusterMessageSerializer)}: unknown manifest '{manifest}' (this node reads {string.Join(", ", Manifests)}): " +
                "is the sending node another LstmStream version?");
        }

        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        try
        {
            object message = manifest switch
            {
                RoutedRecordsManifest => ReadRoutedRecords(reader),
                RoutedOutputsManifest => ReadRoutedOutputs(reader),
                LoadKeysManifest => new LoadKeys(reader.ReadInt32(), ReadStrings(reader, manifest)),
                LoadedKeysManifest => new LoadedKeys(reader.ReadInt32(), KeyStateBinary.Read(reader, nameof(LoadedKeys))),
                ApplyChangesManifest => ReadApplyChanges(reader, manifest),
                GetBucketMemoryManifest => new GetBucketMemory(reader.ReadInt32()),
                BucketMemoryManifest => new BucketMemory(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32()),
                SaveBucketManifest => new SaveBucket(reader.ReadInt32()),
                BucketSavedManifest => new BucketSaved(reader.ReadInt32(), reader.ReadBoolean(), reader.ReadInt32(), reader.ReadInt64()),
                GetStoredKeyManifest => new GetStoredKey(reader.ReadInt32(), reader.ReadString()),
                StoredKeyManifest => ReadStoredKey(reader),
                HandOffBucketManifest => HandOffBucket.Instance,
                GetNodeStatusManifest => GetNodeStatus.Instance,
                CheckpointWrittenManifest => new CheckpointWritten(reader.ReadInt64()),
                EverythingSteppedManifest => new EverythingStepped(system.Provider.ResolveActorRef(reader.ReadString())),
                EverythingSteppedNotedManifest => EverythingSteppedNoted.Instance,
                _ => new NodeStatus(reader.ReadInt64()),
            };
            if (reader.BaseStream.Position != bytes.Length)
                throw new SerializationException($"{manifest} has {bytes.Length - reader.BaseStream.Position} byte(s) after its end");
            return message;
        }
        catch (EndOfStreamException)
        {
            throw new SerializationException($"{nameof(ClusterMessageSerializer)}: {manifest} ends early ({bytes.Length} bytes)");
        }
    }

    private static byte[] WritePath(object message, IActorRef actor)
    {
        var path = Akka.Serialization.Serialization.SerializedActorPath(actor);
        return Write(message, KeyStateBinary.StringSize(path), w => w.Write(path));
    }

    private static byte[] WriteRouted(RoutedRecords m)
    {
        var replyTo = Akka.Serialization.Serialization.SerializedActorPath(m.ReplyTo);
        return WriteRouted(m, 4 + KeyStateBinary.StringSize(replyTo), m.Width, m.Keys, m.Seq, m.Flags, m.Tags, m.Data, w =>
        {
            w.Write(m.Bucket);
            w.Write(replyTo);
        });
    }

    private static byte[] WriteRouted(RoutedOutputs m) => WriteRouted(m, 8, m.Width, m.Keys, m.Seq, m.Flags, m.Tags, m.Data, w => w.Write(m.OwnerRound));

    private static byte[] WriteRouted(object message, long headerSize, int width, string[] keys, long[] seq, StepFlags[] flags, long[] tags, float[] data,
        Action<BinaryWriter> header)
    {
        var count = keys.Length;
        if (width < 0) throw new ArgumentException($"{message.GetType().Name}: width {width} is negative", nameof(message));
        if (seq.Length != count || flags.Length != count || tags.Length != count || data.Length < (long)count * width)
        {
            throw new ArgumentException($"{message.GetType().Name}: {count} keys but {seq.Length} seq, {flags.Length} flags, {tags.Length} tags and " +
                                        $"{data.Length} floats (need {(long)count * width})", nameof(message));
        }

        return Write(message, headerSize + 4 + StringsSize(keys) + count * (8L + 1 + 8) + 4L * count * width, w =>
        {
            header(w);
            w.Write(width);
            w.Write(count);
            foreach (var key in keys) w.Write(key);
            w.Write(MemoryMarshal.AsBytes(seq.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(flags.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(tags.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(data.AsSpan(0, count * width)));
        });
    }

    private RoutedRecords ReadRoutedRecords(BinaryReader reader)
    {
        var bucket = reader.ReadInt32();
        var path = reader.ReadString();
        var replyTo = system.Provider.ResolveActorRef(path);
        var (width, keys, seq, flags, tags, data) = ReadColumns(reader, RoutedRecordsManifest);
        return new RoutedRecords(bucket, replyTo, width, keys, seq, flags, tags, data);
    }

    private static RoutedOutputs ReadRoutedOutputs(BinaryReader reader)
    {
        var ownerRound = reader.ReadInt64();
        var (width, keys, seq, flags, tags, data) = ReadColumns(reader, RoutedOutputsManifest);
        return new RoutedOutputs(width, keys, seq, flags, tags, data) { OwnerRound = ownerRound };
    }

    private static (int Width, string[] Keys, long[] Seq, StepFlags[] Flags, long[] Tags, float[] Data) ReadColumns(BinaryReader reader, string manifest)
    {
        var width = reader.ReadInt32();
        if (width < 0) throw new SerializationException($"{manifest}: width {width} is negative");
        var count = KeyStateBinary.ReadCount(reader, manifest, "row");
        var left = reader.BaseStream.Length - reader.BaseStream.Position;
        if ((long)count * (1 + 8 + 1 + 8) + 4L * count * width > left)
            throw new SerializationException($"{manifest}: {count} rows of {width} floats do not fit the {left} bytes left");
        var keys = new string[count];
        for (var r = 0; r < count; r++) keys[r] = reader.ReadString();
        var seq = new long[count];
        var flags = new StepFlags[count];
        var tags = new long[count];
        var data = new float[count * width];
        ReadExactly(reader, MemoryMarshal.AsBytes(seq.AsSpan()), manifest);
        ReadExactly(reader, MemoryMarshal.AsBytes(flags.AsSpan()), manifest);
        ReadExactly(reader, MemoryMarshal.AsBytes(tags.AsSpan()), manifest);
        ReadExactly(reader, MemoryMarshal.AsBytes(data.AsSpan()), manifest);
        return (width, keys, seq, flags, tags, data);
    }

    private static StoredKey ReadStoredKey(BinaryReader reader)
    {
        var key = reader.ReadString();
        var states = KeyStateBinary.Read(reader, nameof(StoredKey));
        if (states.Length > 1) throw new SerializationException($"{StoredKeyManifest}: key '{key}' comes with {states.Length} states");
        return new StoredKey(key, states.Length == 1 ? states[0] : null);
    }

    private static KeyState[] StatesOf(StoredKey m) => m.State is null ? [] : [m.State];

    private static void ReadExactly(BinaryReader reader, Span<byte> into, string manifest)
    {
        if (reader.Read(into) != into.Length) throw new SerializationException($"{manifest} ends inside its rows");
    }

    private static long StringsSize(IReadOnlyList<string> strings)
    {
        long size = 4;
        foreach (var s in strings) size += KeyStateBinary.StringSize(s);
        return size;
    }

    private static void WriteStrings(BinaryWriter writer, IReadOnlyList<string> strings)
    {
        writer.Write(strings.Count);
        foreach (var s in strings) writer.Write(s);
    }

    private static string[] ReadStrings(BinaryReader reader, string manifest)
    {
        var strings = new string[KeyStateBinary.ReadCount(reader, manifest, "key")];
        for (var i = 0; i < strings.Length; i++) strings[i] = reader.ReadString();
        return strings;
    }

    /// <summary>Writes <paramref name="message"/> into a buffer of exactly <paramref name="size"/> bytes, refusing one over the frame.</summary>
    private static byte[] Write(object message, long size, Action<BinaryWriter> write)
    {
        if (size > RoutedMessageSize.MaxFrameBytes)
        {
            var bucket = message is IBucketMessage b ? $" of bucket {b.Bucket}" : "";
            throw new SerializationException($"{message.GetType().Name}{bucket} is {size:N0} bytes, more than the {RoutedMessageSize.MaxFrameBytes:N0} bytes " +
                                             "a message between nodes may take");
        }

        return KeyStateBinary.WriteExactly(size, message.GetType().Name, write);
    }
}
