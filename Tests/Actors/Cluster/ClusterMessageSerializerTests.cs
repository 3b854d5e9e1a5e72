using System.Reflection;
using System.Runtime.Serialization;
using Akka.Actor;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Actors.Persistence;
using static LstmStream.Actors.Cluster.NodeStatusActor;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Tests.Actors.Cluster;

public sealed class ClusterMessageSerializerTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly string[] AwkwardKeys = ["sensor-1", "", "ключ-7", "传感器", "emoji-\U0001F600", "tab\tand \"quotes\"", new string('k', 300)];
    private readonly ClusterMessageSerializer _serializer;

    public ClusterMessageSerializerTests() => _serializer = new ClusterMessageSerializer((ExtendedActorSystem)Sys);

    [Fact]
    public void Routed_records_come_back_with_every_field_and_every_float_bit_for_bit()
    {
        var replyTo = CreateTestProbe().Ref;
        var (keys, seq, flags, tags, data) = Rows(AwkwardKeys.Length, width: 5);
        var sent = new RoutedRecords(173, replyTo, 5, keys, seq, flags, tags, data);

        var back = RoundTrip(sent);

        Assert.Equal(173, back.Bucket);
        Assert.Equal(replyTo, back.ReplyTo);
        AssertColumns(sent.Width, sent.Keys, sent.Seq, sent.Flags, sent.Tags, sent.Data, back.Width, back.Keys, back.Seq, back.Flags, back.Tags, back.Data);
    }

    [Fact]
    public void Routed_outputs_come_back_with_every_field_and_every_float_bit_for_bit()
    {
        var (keys, seq, flags, tags, data) = Rows(AwkwardKeys.Length, width: 3);
        var sent = new RoutedOutputs(3, keys, seq, flags, tags, data) { OwnerRound = 1L << 40 };

        var back = RoundTrip(sent);

        Assert.Equal(1L << 40, back.OwnerRound);
        AssertColumns(sent.Width, sent.Keys, sent.Seq, sent.Flags, sent.Tags, sent.Data, back.Width, back.Keys, back.Seq, back.Flags, back.Tags, back.Data);
    }

    [Fact]
    public void An_owner_s_written_round_comes_back()
    {
        Assert.Equal(new CheckpointWritten(long.MaxValue - 3), RoundTrip(new CheckpointWritten(long.MaxValue - 3)));
    }

    [Fact]
    public void A_leaving_owner_s_everything_stepped_comes_back_naming_the_same_owner_and_so_does_its_answer()
    {
        var owner = CreateTestProbe().Ref;
        Assert.Equal(owner, Assert.IsType<EverythingStepped>(RoundTrip(new EverythingStepped(owner))).Owner);
        Assert.Same(EverythingSteppedNoted.Instance, RoundTrip(EverythingSteppedNoted.Instance));
    }

    [Fact]
    public void Empty_batches_come_back_empty()
    {
        var records = RoundTrip(new RoutedRecords(0, TestActor, 16, [], [], [], [], []));
        Assert.Equal(0, records.Count);
        Assert.Equal(16, records.Width);
        Assert.Empty(records.Data);
        var outputs = RoundTrip(new RoutedOutputs(0, [], [], [], [], []));
        Assert.Equal(0, outputs.Count);
        Assert.Equal(0, outputs.Width);
    }

    [Fact]
    public void A_large_batch_comes_back_whole()
    {
        var (keys, seq, flags, tags, data) = Rows(50_000, width: 16);
        var sent = new RoutedRecords(3, TestActor, 16, keys, seq, flags, tags, data);

        var bytes = _serializer.ToBinary(sent);
        var back = (RoutedRecords)_serializer.FromBinary(bytes, _serializer.Manifest(sent));

        Assert.True(bytes.Length > 50_000 * (8 + 1 + 8 + 16 * 4), $"{bytes.Length} bytes");
        AssertColumns(sent.Width, sent.Keys, sent.Seq, sent.Flags, sent.Tags, sent.Data, back.Width, back.Keys, back.Seq, back.Flags, back.Tags, back.Data);
    }

    [Fact]
    public void Only_the_rows_of_the_batch_are_written_when_the_data_array_is_longer()
    {
        var back = RoundTrip(new RoutedOutputs(2, ["a"], [1], [StepFlags.None], [9], [1f, 2f, 3f, 4f]));
        Assert.Equal([1f, 2f], back.Data);
    }

    [Fact]
    public void Columns_of_different_lengths_are_refused_naming_them()
    {
        var error = Assert.Throws<ArgumentException>(() => _serializer.ToBinary(new RoutedOutputs(2, ["a", "b"], [1], [StepFlags.None], [9], [1f, 2f])));
        Assert.Contains("2 keys but 1 seq", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_bucket_protocol_messages_come_back_with_their_states_bit_for_bit()
    {
        var states = new[] { StoredSessions.State("k-1", 1, 41), StoredSessions.State("ключ-2", 2, null, identity: "model-b", layers: 3) };

        var load = RoundTrip(new LoadKeys(5, AwkwardKeys));
        Assert.Equal(5, load.Bucket);
        Assert.Equal(AwkwardKeys, load.Keys);

        var loaded = RoundTrip(new LoadedKeys(6, states));
        Assert.Equal(6, loaded.Bucket);
        AssertStates(states, loaded.States);

        var changes = RoundTrip(new ApplyChanges(7, states, ["gone", "ключ"]));
        Assert.Equal(7, changes.Bucket);
        AssertStates(states, changes.Save);
        Assert.Equal(["gone", "ключ"], changes.Delete);
        Assert.False(changes.Live);

        var export = RoundTrip(new ApplyChanges(7, states, []) { Live = true, Changed = 1 });
        Assert.True(export.Live);
        Assert.Equal(1, export.Changed);
        AssertStates(states, export.Save);

        Assert.Equal(new GetBucketMemory(11), RoundTrip(new GetBucketMemory(11)));
        Assert.Equal(new BucketMemory(12, 300, 4000), RoundTrip(new BucketMemory(12, 300, 4000)));

        Assert.Equal(new SaveBucket(8), RoundTrip(new SaveBucket(8)));
        Assert.Equal(new BucketSaved(9, true, 1234, 5_000_000_000), RoundTrip(new BucketSaved(9, true, 1234, 5_000_000_000)));
        Assert.Equal(new BucketSaved(9, false, 0, 0), RoundTrip(new BucketSaved(9, false, 0, 0)));
        Assert.Equal(new GetStoredKey(10, "传感器"), RoundTrip(new GetStoredKey(10, "传感器")));

        var stored = RoundTrip(new StoredKey("k-1", states[0]));
        Assert.Equal("k-1", stored.Key);
        StoredSessions.AssertBitwiseEqual(states[0], stored.State);
        Assert.Equal(new StoredKey("none", null), RoundTrip(new StoredKey("none", null)));

        Assert.Same(HandOffBucket.Instance, RoundTrip(HandOffBucket.Instance));
        Assert.Same(GetNodeStatus.Instance, RoundTrip(GetNodeStatus.Instance));
        Assert.Equal(new NodeStatus(1_000_000), RoundTrip(new NodeStatus(1_000_000)));
    }

    [Fact]
    public void An_unknown_manifest_is_refused_naming_it_and_the_known_ones()
    {
        var error = Assert.Throws<SerializationException>(() => _serializer.FromBinary([1, 2, 3], "RR2"));
        Assert.Contains("'RR2'", error.Message, StringComparison.Ordinal);
        Assert.Contains("RR1", error.Message, StringComparison.Ordinal);
        Assert.Contains("another LstmStream version", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_or_overlong_message_is_refused_naming_its_manifest()
    {
        var (keys, seq, flags, tags, data) = Rows(4, width: 2);
        var sent = new RoutedOutputs(2, keys, seq, flags, tags, data);
        var bytes = _serializer.ToBinary(sent);
        var manifest = _serializer.Manifest(sent);

        foreach (var cut in new[] { 1, 9, bytes.Length / 2 })
            Assert.Contains(manifest, Assert.Throws<SerializationException>(() => _serializer.FromBinary(bytes[..^cut], manifest)).Message, StringComparison.Ordinal);
        Assert.Contains("after its end", Assert.Throws<SerializationException>(() => _serializer.FromBinary([.. bytes, 0], manifest)).Message, StringComparison.Ordinal);
        // A row count the bytes cannot hold is refused before anything is allocated for it.
        var huge = (byte[])bytes.Clone();
        BitConverter.GetBytes(int.MaxValue / 2).CopyTo(huge, 8 + 4); // after the owner's round and the width
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(huge, manifest));
    }

    [Fact]
    public void A_message_larger_than_the_frame_is_refused_naming_its_bucket_and_size()
    {
        var state = new KeyState("m", "k", [new float[RoutedMessageSize.MaxFrameBytes / 4]], [new float[16]]);
        var error = Assert.Throws<SerializationException>(() => _serializer.ToBinary(new ApplyChanges(42, [state], [])));
        Assert.Contains("ApplyChanges of bucket 42", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{RoutedMessageSize.MaxFrameBytes:N0}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bucket_protocol_message_that_can_cross_nodes_is_bound()
    {
        // Only the bucket region of the node itself checks the bucket count; everything else may go through the shard region.
        Type[] local = [typeof(CheckBucketCount), typeof(BucketCountConfirmed)];
        var messages = typeof(BucketProtocol).GetNestedTypes(BindingFlags.Public).Where(t => t.IsClass && !local.Contains(t)).ToList();
        Assert.NotEmpty(messages);
        foreach (var type in messages) Assert.True(ClusterMessageSerializer.BoundTypes.Contains(type), $"{type.Name} is not bound to the cluster serializer");
        // The routing messages and the owners' written rounds cross nodes too.
        foreach (var type in new[] { typeof(RoutedRecords), typeof(RoutedOutputs), typeof(CheckpointWritten) })
            Assert.True(ClusterMessageSerializer.BoundTypes.Contains(type), $"{type.Name} is not bound to the cluster serializer");
        foreach (var type in ClusterMessageSerializer.BoundTypes) Assert.False(string.IsNullOrEmpty(_serializer.Manifest(ClusterMessageSamples.Of(type, TestActor))));
    }

    [Fact]
    public void Rows_that_fit_keep_a_routed_message_within_its_size()
    {
        // Keys of the longest kind (3 UTF-8 bytes per char) and plain ones, mixed.
        var keys = Enumerable.Range(0, 5000).Select(i => i % 3 == 0 ? new string('传', 85) : $"sensor-{i}").ToArray();
        var rows = Enumerable.Range(0, keys.Length).ToArray();
        const int width = 16;
        var sizes = new List<int>();
        var left = rows.AsSpan();
        while (left.Length > 0)
        {
            var n = RoutedMessageSize.RowsThatFit(keys, left, width);
            Assert.InRange(n, 1, left.Length);
            var part = left[..n].ToArray();
            var message = new RoutedRecords(1, TestActor, width, part.Select(r => keys[r]).ToArray(), new long[n], new StepFlags[n], new long[n], new float[n * width]);
            sizes.Add(_serializer.ToBinary(message).Length);
            left = left[n..];
        }

        Assert.True(sizes.Count > 1, "the rows should not fit one message");
        Assert.All(sizes, size => Assert.InRange(size, 1, RoutedMessageSize.MaxRoutedBytes));
        // A row larger than a whole message still goes, alone.
        Assert.Equal(1, RoutedMessageSize.RowsThatFit([new string('x', 200_000)], [0], 1));
    }

    private T RoundTrip<T>(T message) where T : notnull => (T)_serializer.FromBinary(_serializer.ToBinary(message), _serializer.Manifest(message));

    private static (string[] Keys, long[] Seq, StepFlags[] Flags, long[] Tags, float[] Data) Rows(int count, int width)
    {
        var random = new Random(count);
        var keys = Enumerable.Range(0, count).Select(i => i < AwkwardKeys.Length ? AwkwardKeys[i] : $"sensor-{i}").ToArray();
        var seq = Enumerable.Range(0, count).Select(i => i switch { 0 => long.MinValue, 1 => long.MaxValue, 2 => -1L, _ => random.NextInt64() }).ToArray();
        var flags = Enumerable.Range(0, count).Select(i => (StepFlags)(byte)(i % 256)).ToArray();
        var tags = Enumerable.Range(0, count).Select(i => i == 0 ? long.MinValue : random.NextInt64(long.MinValue, long.MaxValue)).ToArray();
        var data = new float[count * width];
        for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        float[] awkward =
        [
            float.NaN, BitConverter.Int32BitsToSingle(0x7FC0_1234), BitConverter.Int32BitsToSingle(unchecked((int)0xFFA0_0001)),
            float.PositiveInfinity, float.NegativeInfinity, -0f, float.Epsilon, float.MaxValue,
        ];
        awkward.AsSpan(0, Math.Min(awkward.Length, data.Length)).CopyTo(data);
        return (keys, seq, flags, tags, data);
    }

    private static void AssertColumns(int width, string[] keys, long[] seq, StepFlags[] flags, long[] tags, float[] data,
        int widthBack, string[] keysBack, long[] seqBack, StepFlags[] flagsBack, long[] tagsBack, float[] dataBack)
    {
        Assert.Equal(width, widthBack);
        Assert.Equal(keys, keysBack);
        Assert.Equal(seq, seqBack);
        Assert.Equal(flags, flagsBack);
        Assert.Equal(tags, tagsBack);
        Assert.Equal(data.Select(BitConverter.SingleToInt32Bits), dataBack.Select(BitConverter.SingleToInt32Bits));
    }

    private static void AssertStates(IReadOnlyList<KeyState> expected, IReadOnlyList<KeyState> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++) StoredSessions.AssertBitwiseEqual(expected[i], actual[i]);
    }
}
