using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Npgsql;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>The snapshot table on a private PostgreSQL 15 server: made ready before the first write, payload stored uncompressed.</summary>
public sealed class PostgreSqlSnapshotTableTests : IClassFixture<PostgreSqlServer>
{
    private readonly PostgreSqlServer _postgres;

    public PostgreSqlSnapshotTableTests(PostgreSqlServer postgres) => _postgres = postgres;

    [Fact]
    public async Task Bucket_snapshots_are_stored_uncompressed_from_the_first_write_and_come_back_bit_for_bit()
    {
        var location = SessionStoreLocation.Parse(await _postgres.CreateDatabaseAsync(), Path.GetTempPath());
        // Zeros compress well: with the default EXTENDED storage the server would store them pglz-compressed.
        var states = Enumerable.Range(0, 8).Select(i => ZeroState($"zero-{i}")).ToArray();
        var (system, store) = await StoredSessions.OpenAsync(location, 1);
        Assert.Equal('e', await StorageAsync(location));
        store.Accept(new SessionChanges(states, [], 0));
        await StoredSessions.SaveAllAsync(store);
        await system.Terminate();

        var (compression, bytes) = await PayloadAsync(location);
        Assert.Null(compression);
        Assert.True(bytes > 8 * 2 * 2 * 4096 * sizeof(float), $"{bytes} bytes stored");

        (system, store) = await StoredSessions.OpenAsync(location, 1);
        var loaded = (await store.LoadAsync(states.Select(s => s.Key).ToArray(), CancellationToken.None)).ToDictionary(s => s.Key);
        foreach (var state in states) StoredSessions.AssertBitwiseEqual(state, loaded[state.Key]);
        await system.Terminate();
    }

    [Fact]
    public async Task A_snapshot_table_made_with_compressed_storage_is_switched_and_its_snapshots_still_load()
    {
        var location = SessionStoreLocation.Parse(await _postgres.CreateDatabaseAsync(), Path.GetTempPath());
        var (system, store) = await StoredSessions.OpenAsync(location, 1);
        await system.Terminate();
        // A table as an earlier version left it: EXTENDED storage, one compressed snapshot in it.
        await ExecuteAsync(location, "ALTER TABLE snapshot ALTER COLUMN snapshot SET STORAGE EXTENDED");
        // Opened as before this change: without PrepareAsync, which would switch the storage back.
        system = Akka.Actor.ActorSystem.Create($"old-{Guid.NewGuid():N}", SessionStoreConfig.For(location));
        store = await StoredSessions.OpenAsync(system, 1);
        store.Accept(new SessionChanges([ZeroState("old")], [], 0));
        await StoredSessions.SaveAllAsync(store);
        await system.Terminate();
        Assert.Equal("pglz", (await PayloadAsync(location)).Compression);

        await location.PrepareAsync(CancellationToken.None);
        Assert.Equal('e', await StorageAsync(location));
        await location.PrepareAsync(CancellationToken.None);
        Assert.Equal('e', await StorageAsync(location));

        (system, store) = await StoredSessions.OpenAsync(location, 1);
        StoredSessions.AssertBitwiseEqual(ZeroState("old"), Assert.Single(await store.LoadAsync(["old"], CancellationToken.None)));
        store.Accept(new SessionChanges([ZeroState("new")], [], 0));
        await StoredSessions.SaveAllAsync(store);
        await WaitForOneRowAsync(location);
        await system.Terminate();
        Assert.Null((await PayloadAsync(location)).Compression);
    }

    [Fact]
    public async Task A_server_that_cannot_be_reached_is_a_store_error_naming_the_server()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var location = SessionStoreLocation.Parse($"Host=127.0.0.1;Port={port};Database=nowhere;Username=postgres;Timeout=3", Path.GetTempPath());

        var error = await Assert.ThrowsAsync<SessionStoreException>(() => location.PrepareAsync(CancellationToken.None));
        Assert.Contains($"PostgreSQL 127.0.0.1:{port}/nowhere", error.Message, StringComparison.Ordinal);
    }

    private static KeyState ZeroState(string key) =>
        new("model-a", key, [new float[4096], new float[4096]], [new float[4096], new float[4096]]) { LastSeq = 1 };

    private static async Task<char> StorageAsync(SessionStoreLocation location)
    {
        await using var connection = new NpgsqlConnection(location.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT attstorage FROM pg_attribute WHERE attrelid = 'snapshot'::regclass AND attname = 'snapshot'", connection);
        return (char)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<(string? Compression, long Bytes)> PayloadAsync(SessionStoreLocation location)
    {
        await using var connection = new NpgsqlConnection(location.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT pg_column_compression(snapshot), octet_length(snapshot) FROM snapshot WHERE persistence_id = @id ORDER BY sequence_number DESC LIMIT 1",
            connection);
        command.Parameters.AddWithValue("id", BucketActor.PersistenceIdOf(0));
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "no snapshot row");
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt32(1));
    }

    /// <summary>The older snapshot is deleted after the newer one is written, asynchronously.</summary>
    private static async Task WaitForOneRowAsync(SessionStoreLocation location)
    {
        var deadline = DateTime.UtcNow + StoredSessions.Timeout;
        long rows;
        do
        {
            await using var connection = new NpgsqlConnection(location.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM snapshot WHERE persistence_id = @id", connection);
            command.Parameters.AddWithValue("id", BucketActor.PersistenceIdOf(0));
            rows = (long)(await command.ExecuteScalarAsync())!;
            if (rows > 1) await Task.Delay(50);
        }
        while (rows > 1 && DateTime.UtcNow < deadline);
        Assert.Equal(1, rows);
    }

    private static async Task ExecuteAsync(SessionStoreLocation location, string sql)
    {
        await using var connection = new NpgsqlConnection(location.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
