using Akka.Actor;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>Several processes opening one new, empty PostgreSQL store at once (nodes of a cluster starting together).</summary>
public sealed class StoreInitializationLockTests : IClassFixture<PostgreSqlServer>
{
    private readonly PostgreSqlServer _postgres;

    public StoreInitializationLockTests(PostgreSqlServer postgres) => _postgres = postgres;

    [Fact]
    public async Task Stores_opened_together_on_an_empty_PostgreSQL_database_all_open_and_share_what_they_write()
    {
        var location = SessionStoreLocation.Parse(await _postgres.CreateDatabaseAsync(), Path.GetTempPath());
        var systems = Enumerable.Range(0, 3).Select(i => ActorSystem.Create($"together-{i}-{Guid.NewGuid():N}", SessionStoreConfig.For(location))).ToArray();
        try
        {
            // Each as serve opens it: the bucket-count check (which creates the journal's and snapshot store's tables) under the lock.
            var stores = await Task.WhenAll(systems.Select(async system =>
            {
                await location.PrepareAsync(CancellationToken.None);
                await using var initializing = await StoreInitializationLock.AcquireAsync(location, CancellationToken.None);
                return await StoredSessions.OpenAsync(system, 8);
            }));

            var state = StoredSessions.State("shared-key", 7, 42);
            stores[0].Accept(new SessionChanges([state], [], null));
            await StoredSessions.SaveAllAsync(stores[0]);
            StoredSessions.AssertBitwiseEqual(state, Assert.Single(await stores[2].LoadAsync(["shared-key"], CancellationToken.None)));
        }
        finally
        {
            await Task.WhenAll(systems.Select(s => s.Terminate()));
        }
    }

    [Fact]
    public async Task A_second_process_waits_until_the_first_has_released_the_lock()
    {
        var location = SessionStoreLocation.Parse(await _postgres.CreateDatabaseAsync(), Path.GetTempPath());
        var first = await StoreInitializationLock.AcquireAsync(location, CancellationToken.None);
        using (var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => StoreInitializationLock.AcquireAsync(location, giveUp.Token));
        }

        await first.DisposeAsync();
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var second = await StoreInitializationLock.AcquireAsync(location, bounded.Token);
    }

    [Fact]
    public async Task A_SQLite_store_takes_no_lock()
    {
        var location = SessionStoreLocation.Parse(Path.Combine(Path.GetTempPath(), $"{Guid.NewGuid():N}.db"), Path.GetTempPath());
        await using var first = await StoreInitializationLock.AcquireAsync(location, CancellationToken.None);
        await using var second = await StoreInitializationLock.AcquireAsync(location, new CancellationToken(canceled: true));
    }

    [Fact]
    public async Task An_unreachable_database_is_a_store_error_naming_the_lock()
    {
        var location = SessionStoreLocation.Parse("Host=127.0.0.1;Port=1;Database=nothing;Username=nobody;Timeout=2", Path.GetTempPath());
        var error = await Assert.ThrowsAsync<SessionStoreException>(() => StoreInitializationLock.AcquireAsync(location, CancellationToken.None));
        Assert.Contains("initialization lock", error.Message, StringComparison.Ordinal);
    }
}
