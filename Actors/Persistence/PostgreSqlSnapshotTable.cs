using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Db;
using Akka.Persistence.Sql.Snapshot;
using LinqToDB;
using Npgsql;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// Readies Akka.Persistence.Sql's snapshot table on PostgreSQL before the first bucket writes: creates it if missing,
/// through the plugin's own mapping (the same statement the plugin runs on first use, so the plugin finds it as its own),
/// and stores its payload column <c>EXTERNAL</c>: out of line in the TOAST table without compression.
/// <para>
/// A bucket snapshot is raw floats (~0.8 MB a bucket at 100,000 sensor keys), which pglz cannot shrink; with the default
/// <c>EXTENDED</c> storage the server tries anyway and gives up only after the whole value: measured, half the server's CPU
/// of a checkpoint (perf: <c>pglz_compress</c> 50 % of the postgres processes' samples). The setting applies to rows
/// written after it; an existing table is altered once (a catalog change, no rewrite).
/// </para>
/// </summary>
internal static class PostgreSqlSnapshotTable
{
    /// <summary>PostgreSQL's <c>attstorage</c> code of <c>EXTERNAL</c>.</summary>
    private const char External = 'e';

    public static async Task PrepareAsync(SessionStoreLocation location, CancellationToken cancellationToken)
    {
        var config = new SnapshotConfig(SessionStoreConfig.For(location).GetConfig("akka.persistence.snapshot-store.sql"));
        var table = config.TableConfig.SnapshotTable;
        var schema = config.TableConfig.SchemaName;
        try
        {
            await using (var connection = new AkkaPersistenceDataConnectionFactory(config).GetConnection())
            {
                try
                {
                    await connection.CreateTableAsync<LongSnapshotRow>(TableOptions.CreateIfNotExists, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.UniqueViolation)
                {
                    // Another node created it at the same moment.
                }
            }

            var name = string.IsNullOrEmpty(schema) ? Identifier(table.Name) : $"{Identifier(schema)}.{Identifier(table.Name)}";
            await using var npgsql = new NpgsqlConnection(location.ConnectionString);
            await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var storage = new NpgsqlCommand(
                "SELECT a.attstorage FROM pg_attribute a WHERE a.attrelid = to_regclass(@table) AND a.attname = @column AND NOT a.attisdropped", npgsql);
            storage.Parameters.AddWithValue("table", name);
            storage.Parameters.AddWithValue("column", table.ColumnNames.Snapshot);
            var current = await storage.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (current is null)
                throw new SessionStoreException($"the snapshot table {name} has no column {table.ColumnNames.Snapshot} after it was created");
            if (current is char code && code == External) return;
            await using var alter = new NpgsqlCommand($"ALTER TABLE {name} ALTER COLUMN {Identifier(table.ColumnNames.Snapshot)} SET STORAGE EXTERNAL", npgsql);
            await alter.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e)
        {
            throw new SessionStoreException($"cannot prepare the snapshot table on {location.Description}: {e.Message}", e);
        }
    }

    private static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
