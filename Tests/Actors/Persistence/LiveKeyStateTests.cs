using Akka.Actor;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using static LstmStream.Actors.Persistence.BucketProtocol;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>
/// The bucket actors keep no second copy of live keys: once a snapshot holding the pipeline's export of a bucket's
/// live keys is written, their states are forgotten (names kept), and read back from the latest snapshot when one is
/// needed without a new export. On a SQLite file and a private PostgreSQL 15 server.
/// </summary>
public sealed class LiveKeyStateTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-live-{Guid.NewGuid():N}");

    public LiveKeyStateTests(PostgreSqlServer postgres) => _postgres = postgres;

    public static TheoryData<string> Stores => ["sqlite", "postgresql"];

    private Task<SessionStoreLocation> NewStoreAsync(string kind) => StoredSessions.NewLocationAsync(kind, _folder, _postgres);

    private static SessionChanges LiveExport(int bucket, int changed, params KeyState[] states) =>
        new(states, [], bucket) { LiveBucket = true, Changed = changed };

    private static async Task<BucketMemory> MemoryAsync(ActorSystem system, int bucket)
    {
        var region = await system.ActorSelection("/user/sessions-store").ResolveOne(StoredSessions.Timeout);
        return await region.Ask<BucketMemory>(new GetBucketMemory(bucket), StoredSessions.Timeout);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_written_bucket_holds_no_state_of_its_live_keys_and_reads_them_back_when_one_is_asked_for(string kind)
    {
        var location = await NewStoreAsync(kind);
        var (system, store) = await StoredSessions.OpenAsync(location, 1);
        var (a, b, c) = (StoredSessions.State("a", 1, 10), StoredSessions.State("b", 2, 20), StoredSessions.State("c", 3, null));
        var evicted = StoredSessions.State("d", 4, 40);
        store.Accept(new SessionChanges([evicted], [], null));
        store.Accept(LiveExport(0, 3, a, b, c));

        var saved = await store.SaveBucketAsync(0, CancellationToken.None);
        Assert.True(saved.Written);
        Assert.Equal(4, saved.Keys);
        Assert.Equal(new BucketMemory(0, HeldStates: 1, LiveKeys: 3), await MemoryAsync(system, 0));

        // Nothing changed: an export of the same states writes nothing and holds nothing.
        store.Accept(LiveExport(0, 0, a, b, c));
        Assert.False((await store.SaveBucketAsync(0, CancellationToken.None)).Written);
        Assert.Equal(new BucketMemory(0, 1, 3), await MemoryAsync(system, 0));

        // A live key asked for without an export (its pipeline stopped without evicting it): read back, bit for bit.
        var loaded = (await store.LoadAsync(["b", "d"], CancellationToken.None)).ToDictionary(s => s.Key);
        StoredSessions.AssertBitwiseEqual(b, loaded["b"]);
        StoredSessions.AssertBitwiseEqual(evicted, loaded["d"]);
        StoredSessions.AssertBitwiseEqual(c, await store.GetStoredAsync("c", CancellationToken.None));
        Assert.Equal(new BucketMemory(0, 4, 0), await MemoryAsync(system, 0));

        // The next export (one key changed) is what is written; its states are forgotten again once written.
        var b2 = StoredSessions.State("b", 22, 21);
        store.Accept(LiveExport(0, 1, a, b2, c));
        Assert.True((await store.SaveBucketAsync(0, CancellationToken.None)).Written);
        Assert.Equal(new BucketMemory(0, 1, 3), await MemoryAsync(system, 0));
        await system.Terminate();

        (system, store) = await StoredSessions.OpenAsync(location, 1);
        var after = (await store.LoadAsync(["a", "b", "c", "d"], CancellationToken.None)).ToDictionary(s => s.Key);
        foreach (var state in new[] { a, b2, c, evicted }) StoredSessions.AssertBitwiseEqual(state, after[state.Key]);
        await system.Terminate();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_save_without_an_export_writes_the_live_keys_read_back_so_no_key_is_lost(string kind)
    {
        var location = await NewStoreAsync(kind);
        var (system, store) = await StoredSessions.OpenAsync(location, 1);
        var (a, b) = (StoredSessions.State("a", 5, 50), StoredSessions.State("b", 6, 60));
        store.Accept(LiveExport(0, 2, a, b));
        Assert.True((await store.SaveBucketAsync(0, CancellationToken.None)).Written);
        Assert.Equal(new BucketMemory(0, 0, 2), await MemoryAsync(system, 0));

        // An eviction and a save asked for directly (a hand-off, a store used without the pipeline's checkpoint).
        var e = StoredSessions.State("e", 7, 70);
        store.Accept(new SessionChanges([e], [], null));
        var saved = await store.SaveBucketAsync(0, CancellationToken.None);
        Assert.True(saved.Written);
        Assert.Equal(3, saved.Keys);
        store.Accept(new SessionChanges([], ["a"], null));
        Assert.Equal(2, (await store.SaveBucketAsync(0, CancellationToken.None)).Keys);
        await system.Terminate();

        (system, store) = await StoredSessions.OpenAsync(location, 1);
        var after = (await store.LoadAsync(["a", "b", "e"], CancellationToken.None)).ToDictionary(s => s.Key);
        Assert.Equal(["b", "e"], after.Keys.Order());
        StoredSessions.AssertBitwiseEqual(b, after["b"]);
        StoredSessions.AssertBitwiseEqual(e, after["e"]);
        await system.Terminate();
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
