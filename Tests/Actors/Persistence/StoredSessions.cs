using System.Data.Common;
using Akka.Actor;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>Test states and a session store opened on an actor system of its own (one per "process life").</summary>
internal static class StoredSessions
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>A state with awkward floats: NaNs with payloads, both zeros, subnormals, infinities, ordinary values.</summary>
    public static KeyState State(string key, int seed, long? lastSeq, string identity = "model-a", int layers = 2)
    {
        var random = new Random(seed);
        float[] Row(int length)
        {
            var row = new float[length];
            for (var i = 0; i < length; i++) row[i] = (float)(random.NextDouble() * 4 - 2);
            row[0] = BitConverter.Int32BitsToSingle(0x7FC0_1234 + seed);
            row[1] = BitConverter.Int32BitsToSingle(unchecked((int)0xFFA0_0001));
            row[2] = -0f;
            row[3] = float.Epsilon * (seed + 1);
            row[4] = float.NegativeInfinity;
            return row;
        }

        var c = new float[layers][];
        var h = new float[layers][];
        for (var layer = 0; layer < layers; layer++)
        {
            c[layer] = Row(8 + layer);
            h[layer] = Row(6 + layer);
        }

        return new KeyState(identity, key, c, h) { LastSeq = lastSeq };
    }

    public static void AssertBitwiseEqual(KeyState expected, KeyState? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.ModelIdentity, actual.ModelIdentity);
        Assert.Equal(expected.LastSeq, actual.LastSeq);
        Assert.Equal(expected.C.Length, actual.C.Length);
        for (var layer = 0; layer < expected.C.Length; layer++)
        {
            Assert.Equal(Bits(expected.C[layer]), Bits(actual.C[layer]));
            Assert.Equal(Bits(expected.H[layer]), Bits(actual.H[layer]));
        }
    }

    private static int[] Bits(float[] row) => row.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>A new empty store: a SQLite file in <paramref name="folder"/> (<paramref name="kind"/> "sqlite") or a new database of <paramref name="postgres"/>.</summary>
    public static async Task<SessionStoreLocation> NewLocationAsync(string kind, string folder, Support.PostgreSqlServer postgres) => kind == "sqlite"
        ? SessionStoreLocation.Parse(Path.Combine(folder, $"{Guid.NewGuid():N}.db"), folder)
        : SessionStoreLocation.Parse(await postgres.CreateDatabaseAsync(), folder);

    /// <summary>An actor system configured for <paramref name="location"/> and the store opened on it.</summary>
    public static async Task<(ActorSystem System, PersistentSessionStore Store)> OpenAsync(SessionStoreLocation location, int buckets,
        TimeSpan? idleAfter = null)
    {
        await location.PrepareAsync(CancellationToken.None);
        var system = ActorSystem.Create($"store-{Guid.NewGuid():N}", SessionStoreConfig.For(location));
        try
        {
            var store = await OpenAsync(system, buckets, idleAfter);
            return (system, store);
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    public static Task<PersistentSessionStore> OpenAsync(ActorSystem system, int buckets, TimeSpan? idleAfter = null)
    {
        var region = system.ActorOf(BucketRegionActor.Props(idleAfter ?? TimeSpan.FromMinutes(5)), "sessions-store");
        return PersistentSessionStore.OpenAsync(region, buckets, Timeout, new SessionStoreFigures(), CancellationToken.None);
    }

    /// <summary>Writes every bucket told changes.</summary>
    public static async Task SaveAllAsync(PersistentSessionStore store)
    {
        foreach (var bucket in store.TakePendingBuckets()) Assert.True((await store.SaveBucketAsync(bucket, CancellationToken.None)).Written);
    }

    /// <summary>How many snapshot rows <paramref name="persistenceId"/> has in the store's table.</summary>
    public static async Task<long> CountSnapshotsAsync(SessionStoreLocation location, string persistenceId) =>
        Convert.ToInt64(await ExecuteAsync(location, "SELECT COUNT(*) FROM snapshot WHERE persistence_id = @id", persistenceId, scalar: true));

    /// <summary>Runs <paramref name="sql"/> on the store's database (<c>@id</c>: <paramref name="id"/>); the first value when <paramref name="scalar"/>.</summary>
    public static async Task<object?> ExecuteAsync(SessionStoreLocation location, string sql, string? id = null, bool scalar = false)
    {
        await using DbConnection connection = location.Kind == SessionStoreKind.Sqlite
            ? new SqliteConnection(location.ConnectionString)
            : new NpgsqlConnection(location.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (id is not null)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "id";
            parameter.Value = id;
            command.Parameters.Add(parameter);
        }

        return scalar ? await command.ExecuteScalarAsync() : await command.ExecuteNonQueryAsync();
    }
}
