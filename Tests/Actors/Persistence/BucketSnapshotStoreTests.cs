using Akka.Actor;
using Akka.Persistence;
using LstmStream.Actors.Persistence;
using LstmStream.Tests.Support;
using Microsoft.Data.Sqlite;

namespace LstmStream.Tests.Actors.Persistence;

/// <summary>
/// The snapshot store's write of a bucket snapshot, which removes the bucket's older snapshots in the same statement, on
/// a SQLite file and a private PostgreSQL 15 server: driven through the snapshot store itself, with the sequence numbers a
/// bucket's attempts use.
/// </summary>
public sealed class BucketSnapshotStoreTests : IClassFixture<PostgreSqlServer>, IDisposable
{
    private const string Bucket = "lstmstream-bucket-0";
    private readonly PostgreSqlServer _postgres;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"lstmstream-snapshots-{Guid.NewGuid():N}");

    public BucketSnapshotStoreTests(PostgreSqlServer postgres) => _postgres = postgres;

    public static TheoryData<string> Stores => ["sqlite", "postgresql"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_written_snapshot_is_the_only_one_of_its_bucket_once_its_write_is_answered(string kind)
    {
        var location = await StoredSessions.NewLocationAsync(kind, _folder, _postgres);
        var (system, _) = await StoredSessions.OpenAsync(location, 1);
        var snapshots = Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        for (var seq = 1; seq <= 5; seq++)
        {
            await SaveAsync(snapshots, seq);
            Assert.Equal(1, await StoredSessions.CountSnapshotsAsync(location, Bucket));
            Assert.Equal(seq, await LatestAsync(snapshots));
        }

        // Another persistence id's snapshots are not touched.
        await SaveAsync(snapshots, 1, "lstmstream-bucket-1");
        await SaveAsync(snapshots, 6);
        Assert.Equal(1, await StoredSessions.CountSnapshotsAsync(location, "lstmstream-bucket-1"));
        Assert.Equal(1, await StoredSessions.CountSnapshotsAsync(location, Bucket));
        await system.Terminate();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_write_answered_after_a_newer_one_never_becomes_the_latest_and_the_next_write_removes_it(string kind)
    {
        var location = await StoredSessions.NewLocationAsync(kind, _folder, _postgres);
        var (system, _) = await StoredSessions.OpenAsync(location, 1);
        var snapshots = Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        await SaveAsync(snapshots, 1);
        // Attempt 2 was given up by the bucket, which then wrote attempt 3; attempt 2's write reaches the database last.
        await SaveAsync(snapshots, 3);
        await SaveAsync(snapshots, 2);
        Assert.Equal(3, await LatestAsync(snapshots));
        Assert.Equal(2, await StoredSessions.CountSnapshotsAsync(location, Bucket));

        await SaveAsync(snapshots, 4);
        Assert.Equal(4, await LatestAsync(snapshots));
        Assert.Equal(1, await StoredSessions.CountSnapshotsAsync(location, Bucket));
        await system.Terminate();

        // After a restart the bucket recovers the latest written snapshot.
        (system, _) = await StoredSessions.OpenAsync(location, 1);
        Assert.Equal(4, await LatestAsync(Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null)));
        await system.Terminate();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_write_that_fails_while_removing_the_older_snapshot_leaves_that_snapshot_the_latest(string kind)
    {
        var location = await StoredSessions.NewLocationAsync(kind, _folder, _postgres);
        var (system, _) = await StoredSessions.OpenAsync(location, 1);
        var snapshots = Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        await SaveAsync(snapshots, 1);
        // The database refuses to delete a row: the write of 2 fails in its second half, after its row was inserted.
        await StoredSessions.ExecuteAsync(location, kind == "sqlite"
            ? "CREATE TRIGGER keep_snapshots BEFORE DELETE ON snapshot BEGIN SELECT RAISE(ABORT, 'snapshots are kept'); END;"
            : "CREATE FUNCTION keep_snapshots() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'snapshots are kept'; END $$; " +
              "CREATE TRIGGER keep_snapshots BEFORE DELETE ON snapshot FOR EACH ROW EXECUTE FUNCTION keep_snapshots();");

        var answer = await snapshots.Ask(new SaveSnapshot(new SnapshotMetadata(Bucket, 2, DateTime.UtcNow), Snapshot(2)), StoredSessions.Timeout);
        var failure = Assert.IsType<SaveSnapshotFailure>(answer);
        Assert.Contains("snapshots are kept", failure.Cause.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, await StoredSessions.CountSnapshotsAsync(location, Bucket));
        Assert.Equal(1, await LatestAsync(snapshots));
        await system.Terminate();
    }

    /// <summary>A snapshot whose one key's <c>LastSeq</c> is <paramref name="seq"/>, so a load tells which write it came from.</summary>
    private static BucketSnapshot Snapshot(long seq) => new([StoredSessions.State("a", (int)seq, seq)]);

    private static async Task SaveAsync(IActorRef snapshots, long seq, string persistenceId = Bucket)
    {
        var answer = await snapshots.Ask(new SaveSnapshot(new SnapshotMetadata(persistenceId, seq, DateTime.UtcNow), Snapshot(seq)), StoredSessions.Timeout);
        Assert.IsType<SaveSnapshotSuccess>(answer);
    }

    /// <summary>The sequence number of the latest snapshot of bucket 0, checked against the state it holds.</summary>
    private static async Task<long> LatestAsync(IActorRef snapshots)
    {
        var loaded = await snapshots.Ask<LoadSnapshotResult>(new LoadSnapshot(Bucket, SnapshotSelectionCriteria.Latest, long.MaxValue), StoredSessions.Timeout);
        Assert.NotNull(loaded.Snapshot);
        var state = Assert.Single(((BucketSnapshot)loaded.Snapshot.Snapshot).States);
        Assert.Equal(loaded.Snapshot.Metadata.SequenceNr, state.LastSeq);
        return loaded.Snapshot.Metadata.SequenceNr;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
