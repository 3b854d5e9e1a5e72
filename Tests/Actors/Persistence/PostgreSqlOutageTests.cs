using Akka.Actor;
using LstmStream.Actors.Persistence;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>PostgreSQL stopped and started again under a running store (its own server: the test stops it).</summary>
public sealed class PostgreSqlOutageTests : IClassFixture<PostgreSqlServer>
{
    private readonly PostgreSqlServer _postgres;

    public PostgreSqlOutageTests(PostgreSqlServer postgres) => _postgres = postgres;

    [Fact]
    public async Task PostgreSQL_stopped_and_started_again_degrades_the_store_then_everything_kept_meanwhile_is_written()
    {
        var location = SessionStoreLocation.Parse(await _postgres.CreateDatabaseAsync(), Path.GetTempPath());
        var (system, store) = await StoredSessions.OpenAsync(location, 8);
        var source = new FakeCheckpointSource(store);
        var coordinator = system.ActorOf(CheckpointCoordinatorActor.Props(source, store, TimeSpan.Zero, TimeSpan.FromSeconds(2)));
        var before = StoredSessions.State("before", 1, 10);
        source.Step(before);
        await coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, StoredSessions.Timeout);
        Assert.False(store.Figures.IsDegraded);

        await _postgres.StopAsync();
        var during = StoredSessions.State("during", 2, 20);
        var updated = StoredSessions.State("before", 3, 11);
        source.Step(during);
        source.Step(updated);
        await Assert.ThrowsAsync<SessionStoreException>(() =>
            coordinator.Ask<CheckpointCoordinatorActor.CheckpointCompleted>(CheckpointCoordinatorActor.CheckpointNow.Instance, TimeSpan.FromSeconds(60)));
        Assert.True(store.Figures.IsDegraded);
        Assert.True(store.Figures.StoreErrors > 0);

        // Back up: the coordinator's own retries (with backoff) write what was kept, without being asked.
        var checkpoints = store.Figures.Checkpoints;
        await _postgres.StartAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (store.Figures.IsDegraded && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.False(store.Figures.IsDegraded);
        Assert.Equal(checkpoints + 1, store.Figures.Checkpoints);
        await system.Terminate();

        (system, store) = await StoredSessions.OpenAsync(location, 8);
        var loaded = (await store.LoadAsync(["before", "during"], CancellationToken.None)).ToDictionary(s => s.Key);
        StoredSessions.AssertBitwiseEqual(updated, loaded["before"]);
        StoredSessions.AssertBitwiseEqual(during, loaded["during"]);
        await system.Terminate();
    }
}
