using LstmStream.Actors.Persistence;

namespace LstmStream.Tests.Actors.Persistence;

public sealed class KeyStateBinaryTests
{
    [Fact]
    public void Writing_exactly_returns_the_buffer_it_was_given_the_size_of()
    {
        var bytes = KeyStateBinary.WriteExactly(9, "test record", writer =>
        {
            writer.Write((byte)7);
            writer.Write(-2L);
        });

        Assert.Equal(9, bytes.Length);
        Assert.Equal(7, bytes[0]);
        Assert.Equal(-2L, BitConverter.ToInt64(bytes, 1));
    }

    [Fact]
    public void Writing_fewer_bytes_than_announced_is_an_error_naming_what_was_written()
    {
        var error = Assert.Throws<InvalidOperationException>(() => KeyStateBinary.WriteExactly(8, "test record", writer => writer.Write(1)));
        Assert.Contains("test record", error.Message, StringComparison.Ordinal);
        Assert.Contains("wrote 4 bytes, expected 8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Writing_more_bytes_than_announced_fails_instead_of_growing_the_buffer()
    {
        Assert.ThrowsAny<Exception>(() => KeyStateBinary.WriteExactly(2, "test record", writer => writer.Write(1)));
    }

    [Fact]
    public void A_snapshot_a_bucket_writes_is_exactly_the_size_computed_for_it()
    {
        var states = new[] { StoredSessions.State("sensor-1", 1, 41), StoredSessions.State("ключ-2", 2, null, identity: "m2", layers: 3) };
        var bytes = KeyStateBinary.WriteExactly(KeyStateBinary.SizeOf(states), "states", writer => KeyStateBinary.Write(writer, states));
        using var reader = new BinaryReader(new MemoryStream(bytes));
        var back = KeyStateBinary.Read(reader, "states");
        Assert.Equal(bytes.Length, reader.BaseStream.Position);
        for (var i = 0; i < states.Length; i++) StoredSessions.AssertBitwiseEqual(states[i], back[i]);
    }
}
