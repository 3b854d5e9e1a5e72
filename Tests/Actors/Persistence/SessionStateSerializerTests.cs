using Akka.Actor;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Actors.Persistence;

public sealed class SessionStateSerializerTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly SessionStateSerializer _serializer;

    public SessionStateSerializerTests() => _serializer = new SessionStateSerializer((ExtendedActorSystem)Sys);

    [Fact]
    public void A_bucket_snapshot_comes_back_bit_for_bit_with_its_seqs_and_model_identities()
    {
        var states = new[]
        {
            StoredSessions.State("sensor-1", 1, 41),
            StoredSessions.State("sensor-2", 2, null),
            StoredSessions.State("ключ-3", 3, long.MaxValue, identity: "model-b", layers: 3),
            StoredSessions.State("", 4, 0),
        };
        var bytes = _serializer.ToBinary(new BucketSnapshot(states));
        var back = (BucketSnapshot)_serializer.FromBinary(bytes, _serializer.Manifest(new BucketSnapshot(states)));

        Assert.Equal(states.Length, back.States.Count);
        for (var i = 0; i < states.Length; i++) StoredSessions.AssertBitwiseEqual(states[i], back.States[i]);
    }

    [Fact]
    public void The_computed_size_is_the_size_written()
    {
        var snapshot = new BucketSnapshot([StoredSessions.State("a", 1, 5), StoredSessions.State(new string('k', 300), 2, null, identity: "m2")]);
        Assert.Equal(_serializer.ToBinary(snapshot).LongLength, SessionStateSerializer.SizeOf(snapshot));
        Assert.Equal(_serializer.ToBinary(new BucketSnapshot([])).LongLength, SessionStateSerializer.SizeOf(new BucketSnapshot([])));
    }

    [Fact]
    public void Serializing_a_bucket_allocates_its_snapshot_once_and_copies_nothing_more()
    {
        // ~340 KB: a large-object-heap snapshot, as a bucket of a checkpoint at 100,000 keys is.
        var snapshot = new BucketSnapshot(Enumerable.Range(0, 2_000).Select(i => StoredSessions.State($"sensor-{i}", i, i)).ToArray());
        var size = SessionStateSerializer.SizeOf(snapshot);
        _serializer.ToBinary(snapshot); // JIT and first-use allocations out of the way

        var before = GC.GetAllocatedBytesForCurrentThread();
        var bytes = _serializer.ToBinary(snapshot);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(size, bytes.LongLength);
        // The array itself plus a few small objects; a growing stream copied out at the end would take twice the size.
        Assert.InRange(allocated, size, size + size / 4);
    }

    [Fact]
    public void A_truncated_snapshot_is_refused_with_a_reason()
    {
        var snapshot = new BucketSnapshot([StoredSessions.State("a", 1, 5)]);
        var bytes = _serializer.ToBinary(snapshot);
        var manifest = _serializer.Manifest(snapshot);
        var error = Assert.ThrowsAny<Exception>(() => _serializer.FromBinary(bytes[..^10], manifest));
        Assert.False(string.IsNullOrEmpty(error.Message));
        Assert.Contains("version", Assert.ThrowsAny<Exception>(() => _serializer.FromBinary([9, 0, 0, 0], manifest)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_bucket_count_record_comes_back()
    {
        var record = new BucketCountRecord(256);
        Assert.Equal(record, _serializer.FromBinary(_serializer.ToBinary(record), _serializer.Manifest(record)));
    }

    [Fact]
    public void Akka_serialization_uses_it_for_what_is_stored()
    {
        using var system = ActorSystem.Create("serializer-binding", SessionStoreConfig.For(SessionStoreLocation.Parse("x.db", Path.GetTempPath())));
        var serialization = system.Serialization;
        Assert.IsType<SessionStateSerializer>(serialization.FindSerializerFor(new BucketSnapshot(Array.Empty<KeyState>())));
        Assert.IsType<SessionStateSerializer>(serialization.FindSerializerFor(new BucketCountRecord(1)));
    }
}
