using Npgsql;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Makes the first use of a session store one process at a time, so nodes starting together on a new, empty PostgreSQL
/// database do not race to create its tables: Akka.Persistence.Sql creates them on first use (<c>auto-initialize</c>,
/// <c>CREATE TABLE IF NOT EXISTS</c>), and two such statements running at once on a database without them make one fail
/// (a duplicate <c>pg_type</c> entry), which stopped that node at start. Held (a PostgreSQL session-level advisory lock on
/// a connection of its own, not pooled) while the store is opened: the bucket-count check recovers a persistent actor,
/// which initializes the journal's and the snapshot store's tables; a process that waited finds them created. For SQLite
/// (one process) and no store it holds nothing.
/// </summary>
public sealed class StoreInitializationLock : IAsyncDisposable
{
    /// <summary>The advisory lock's key (the bytes of "LSTMSTRM"), the same in every LstmStream process.</summary>
    public const long AdvisoryKey = 0x4C53_544D_5354_524D;

    private readonly NpgsqlDataSource? _dataSource;
    private readonly NpgsqlConnection? _connection;

    private StoreInitializationLock(NpgsqlDataSource? dataSource, NpgsqlConnection? connection)
    {
        _dataSource = dataSource;
        _connection = connection;
    }

    /// <summary>
    /// Waits until no other process opens <paramref name="location"/> (PostgreSQL) and holds it until disposed. Throws a
    /// <see cref="SessionStoreException"/> when the database cannot be reached.
    /// </summary>
    public static async Task<StoreInitializationLock> AcquireAsync(SessionStoreLocation location, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (location.Kind != SessionStoreKind.PostgreSql) return new StoreInitializationLock(null, null);
        // Not pooled: a session-level lock lives as long as the server session, and a pooled one outlives Dispose. Without
        // loading the server's types (the lock needs none): opening stays cheap when several nodes start on a busy machine.
        var source = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(location.ConnectionString) { Pooling = false }.ConnectionString);
        source.ConfigureTypeLoading(types => types.EnableTypeLoading(false));
        var dataSource = source.Build();
        NpgsqlConnection? connection = null;
        try
        {
            connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            // No command timeout: another node may hold it for as long as its first use of the store takes (it is released
            // when that node's session ends at the latest); the caller's token bounds the wait.
            // In FROM: one row of a known type (the function itself returns void).
            await using var command = new NpgsqlCommand("SELECT 1 FROM pg_advisory_lock(@key)", connection) { CommandTimeout = 0 };
            command.Parameters.AddWithValue("key", AdvisoryKey);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return new StoreInitializationLock(dataSource, connection);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            await CloseAsync(dataSource, connection).ConfigureAwait(false);
            throw new SessionStoreException($"could not take the store's initialization lock: {e.Message}", e);
        }
        catch
        {
            await CloseAsync(dataSource, connection).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Lets the next process open the store (closing the lock's own connection releases it even if the unlock failed).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_connection is null) return;
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", _connection);
            command.Parameters.AddWithValue("key", AdvisoryKey);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            // The session ends below, and the lock with it.
        }
        finally
        {
            await CloseAsync(_dataSource!, _connection).ConfigureAwait(false);
        }
    }

    private static async ValueTask CloseAsync(NpgsqlDataSource dataSource, NpgsqlConnection? connection)
    {
        if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
        await dataSource.DisposeAsync().ConfigureAwait(false);
    }
}
