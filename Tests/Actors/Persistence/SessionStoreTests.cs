using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Data.Sqlite;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>The store on real databases: a SQLite file and a private PostgreSQL 15 server.</summary>
public sealed class SessionStoreTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-store-{Guid.NewGuid():N}");

    public SessionStoreTests(PostgreSqlServer postgres) => _postgres = postgres;

    public static TheoryData<string> Stores => ["sqlite", "postgresql"];

    private Task<SessionStoreLocation> NewStoreAsync(string kind) => StoredSessions.NewLocationAsync(kind, _folder, _postgres);

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Stored_states_come_back_bit_for_bit_after_a_restart(string kind)
    {
        var location = await NewStoreAsync(kind);
        var states = Enumerable.Range(0, 40).Select(i => StoredSessions.State($"sensor-{i}", i, i % 3 == 0 ? null : 1000 + i)).ToArray();
        var (system, store) = await StoredSessions.OpenAsync(location, 16);
        store.Accept(new SessionChanges(states[..25], [], null));
        store.Accept(new SessionChanges(states[25..], [], 3));
        await StoredSessions.SaveAllAsync(store);
        await system.Terminate();

        (system, store) = await StoredSessions.OpenAsync(location, 16);
        var keys = states.Select(s => s.Key).Append("never-stored").ToArray();
        var loaded = (await store.LoadAsync(keys, CancellationToken.None)).ToDictionary(s => s.Key);
        Assert.Equal(states.Length, loaded.Count);
        foreach (var state in states) StoredSessions.AssertBitwiseEqual(state, loaded[state.Key]);
        Assert.Equal(1, store.Figures.Loads);
        Assert.Equal(states.Length, store.Figures.KeysLoaded);
        await system.Terminate();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Only_the_newest_snapshot_of_a_bucket_is_kept_and_deleted_keys_stay_deleted(string kind)
    {
        var location = await NewStoreAsync(kind);
        var (system, store) = await StoredSessions.OpenAsync(location, 1);
        for (var round = 0; round < 4; round++)
        {
            store.Accept(new SessionChanges([StoredSessions.State("a", round, round), StoredSessions.State("b", 10 + round, round)], [], 0));
            var saved = await store.SaveBucketAsync(0, CancellationToken.None);
            Assert.True(saved.Written);
            Assert.Equal(2, saved.Keys);
            Assert.True(saved.Bytes > 0);
        }

        store.Accept(new SessionChanges([], ["b"], null));
        Assert.Equal([0], store.TakePendingBuckets());
        Assert.Equal(1, (await store.SaveBucketAsync(0, CancellationToken.None)).Keys);
        Assert.False((await store.SaveBucketAsync(0, CancellationToken.None)).Written);

        // Each write removed the older snapshots in the same statement: one row is left as soon as it is answered.
        Assert.Equal(1, await StoredSessions.CountSnapshotsAsync(location, BucketActor.PersistenceIdOf(0)));
        await system.Terminate();

        (system, store) = await StoredSessions.OpenAsync(location, 1);
        var loaded = await store.LoadAsync(["a", "b"], CancellationToken.None);
        StoredSessions.AssertBitwiseEqual(StoredSessions.State("a", 3, 3), Assert.Single(loaded));
        await system.Terminate();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_start_with_another_bucket_count_is_refused_naming_both_counts(string kind)
    {
        var location = await NewStoreAsync(kind);
        var (system, _) = await StoredSessions.OpenAsync(location, 16);
        await system.Terminate();

        var error = await Assert.ThrowsAsync<SessionStoreException>(() => StoredSessions.OpenAsync(location, 32));
        Assert.Contains("16 buckets", error.Message, StringComparison.Ordinal);
        Assert.Contains("LstmStream:Sessions:Buckets is 32", error.Message, StringComparison.Ordinal);

        (system, _) = await StoredSessions.OpenAsync(location, 16);
        await system.Terminate();
    }

    [Fact]
    public void A_PostgreSQL_store_keeps_a_small_connection_pool_unless_its_connection_string_sets_one()
    {
        var defaulted = new Npgsql.NpgsqlConnectionStringBuilder(SessionStoreLocation.Parse("Host=db;Database=lstm;Username=lstm", _folder).ConnectionString);
        var named = new Npgsql.NpgsqlConnectionStringBuilder(SessionStoreLocation.Parse("Host=db;Database=lstm;Maximum Pool Size=50", _folder).ConnectionString);
        var compact = new Npgsql.NpgsqlConnectionStringBuilder(SessionStoreLocation.Parse("Host=db;Database=lstm;maxpoolsize=100", _folder).ConnectionString);

        Assert.Equal(SessionStoreLocation.DefaultMaxPoolSize, defaulted.MaxPoolSize);
        Assert.Equal(50, named.MaxPoolSize);
        Assert.Equal(100, compact.MaxPoolSize);
    }

    [Fact]
    public async Task A_SQLite_store_is_created_on_first_start_from_a_path_relative_to_the_working_directory()
    {
        var location = SessionStoreLocation.Parse("data/sessions/lstmstream.db", _folder);
        var file = Path.Combine(_folder, "data", "sessions", "lstmstream.db");
        Assert.Equal(file, location.SqliteFile);
        Assert.False(File.Exists(file));

        var (system, store) = await StoredSessions.OpenAsync(location, 8);
        Assert.True(File.Exists(file));
        var state = StoredSessions.State("k", 7, 70);
        store.Accept(new SessionChanges([state], [], null));
        await StoredSessions.SaveAllAsync(store);
        await system.Terminate();

        (system, store) = await StoredSessions.OpenAsync(SessionStoreLocation.Parse("data/sessions/lstmstream.db", _folder), 8);
        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await store.LoadAsync(["k"], CancellationToken.None)));
        await system.Terminate();
    }

    [Fact]
    public async Task An_idle_bucket_stops_and_starts_again_on_demand_with_its_state()
    {
        var location = await NewStoreAsync("sqlite");
        var (system, store) = await StoredSessions.OpenAsync(location, 4, idleAfter: TimeSpan.FromMilliseconds(200));
        var state = StoredSessions.State("idle-key", 3, 9);
        var bucket = KeyBuckets.BucketOf("idle-key", 4);
        store.Accept(new SessionChanges([state], [], null));
        await StoredSessions.SaveAllAsync(store);

        var region = await system.ActorSelection("/user/sessions-store").ResolveOne(StoredSessions.Timeout);
        var deadline = DateTime.UtcNow + StoredSessions.Timeout;
        while (await BucketActorsAsync(system) > 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(0, await BucketActorsAsync(system));

        StoredSessions.AssertBitwiseEqual(state, Assert.Single(await store.LoadAsync(["idle-key"], CancellationToken.None)));
        Assert.Equal(1, await BucketActorsAsync(system));
        Assert.NotNull(region);
        Assert.False((await store.SaveBucketAsync(bucket, CancellationToken.None)).Written);
        await system.Terminate();
    }

    private static async Task<int> BucketActorsAsync(Akka.Actor.ActorSystem system)
    {
        var identity = await Akka.Actor.Futures.Ask<Akka.Actor.ActorIdentity>(system.ActorSelection("/user/sessions-store/bucket-*"), new Akka.Actor.Identify(1),
            TimeSpan.FromMilliseconds(300)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
        return identity?.Subject is null ? 0 : 1;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
