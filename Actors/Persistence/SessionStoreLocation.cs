using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace LstmStream.Actors.Persistence;

/// <summary>Where durable sessions are kept.</summary>
public enum SessionStoreKind
{
    /// <summary>Nowhere: sessions live in memory only.</summary>
    None,

    /// <summary>A SQLite file (embedded, one node).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database (production, several nodes).</summary>
    PostgreSql,
}

/// <summary>
/// The store named by the setting <c>LstmStream:Sessions:Store</c>: <c>none</c>; a PostgreSQL connection string (it
/// names a <c>Host</c> or <c>Server</c>, e.g. <c>Host=db;Database=lstm;Username=lstm;Password=…</c>); otherwise a SQLite
/// file path, relative to the working directory, created on first start with its folder.
/// </summary>
public sealed class SessionStoreLocation
{
    private SessionStoreLocation(SessionStoreKind kind, string connectionString, string description)
    {
        Kind = kind;
        ConnectionString = connectionString;
        Description = description;
    }

    public SessionStoreKind Kind { get; }

    /// <summary>The ADO.NET connection string (may hold a password: never log it; log <see cref="Description"/>).</summary>
    public string ConnectionString { get; }

    /// <summary>What the store is, without secrets: "SQLite /srv/data/lstmstream.db", "PostgreSQL db:5432/lstm".</summary>
    public string Description { get; }

    /// <summary>The linq2db provider name Akka.Persistence.Sql uses for this store.</summary>
    public string ProviderName => Kind switch
    {
        SessionStoreKind.Sqlite => "SQLite.MS",
        SessionStoreKind.PostgreSql => "PostgreSQL.15",
        _ => throw new InvalidOperationException("no session store is configured"),
    };

    /// <summary>The SQLite file's full path; null for other stores.</summary>
    public string? SqliteFile { get; private init; }

    public static SessionStoreLocation None { get; } = new(SessionStoreKind.None, "", "none (sessions live in memory only)");

    /// <summary>Reads the setting; throws an <see cref="ArgumentException"/> saying what is wrong with it.</summary>
    /// <param name="setting">The value of <c>LstmStream:Sessions:Store</c>.</param>
    /// <param name="workingDirectory">What a relative SQLite path is relative to.</param>
    public static SessionStoreLocation Parse(string? setting, string workingDirectory)
    {
        if (string.IsNullOrWhiteSpace(setting))
            throw new ArgumentException("is empty; give 'none', a SQLite file path (e.g. data/lstmstream.db) or a PostgreSQL connection string (Host=…)");
        var value = setting.Trim();
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase)) return None;
        if (LooksLikeConnectionString(value)) return PostgreSql(value);

        string file;
        try
        {
            file = Path.GetFullPath(value, workingDirectory);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new ArgumentException($"'{value}' is not a valid file path: {e.Message}");
        }

        if (Directory.Exists(file)) throw new ArgumentException($"'{value}' is a folder; name the SQLite file in it (e.g. {Path.Combine(value, "lstmstream.db")})");
        var builder = new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true };
        return new SessionStoreLocation(SessionStoreKind.Sqlite, builder.ConnectionString, $"SQLite {file}") { SqliteFile = file };
    }

    /// <summary>
    /// Makes the store usable before the first actor touches it: for SQLite, creates the file's folder and the file
    /// and switches it to write-ahead logging (readers do not wait for a checkpoint's write); for PostgreSQL, creates the
    /// snapshot table if missing and stores its payload uncompressed (<see cref="PostgreSqlSnapshotTable"/>; throws a
    /// <see cref="SessionStoreException"/> when the server cannot be reached or refuses). Akka.Persistence.Sql creates the
    /// other tables on first use. Nodes sharing a PostgreSQL database call it one at a time (<see cref="StoreInitializationLock"/>).
    /// </summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (Kind == SessionStoreKind.PostgreSql) await PostgreSqlSnapshotTable.PrepareAsync(this, cancellationToken).ConfigureAwait(false);
        if (Kind != SessionStoreKind.Sqlite) return;
        Directory.CreateDirectory(Path.GetDirectoryName(SqliteFile!)!);
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The most connections to PostgreSQL when the connection string does not say (<c>Maximum Pool Size</c>; Npgsql's own
    /// default is 100). The store needs few at once: a checkpoint writes 4 buckets at a time, restores ask a few buckets,
    /// and a burst of bucket recoveries waits its turn. An idle pooled connection keeps the last command it ran with its
    /// parameters, that is the snapshot it last wrote (a whole bucket's states): after a burst had grown the pool to ~40
    /// connections, they held ~120 old snapshots (3.6 MB at 10,000 live keys, 360 B a key) until reused.
    /// </summary>
    public const int DefaultMaxPoolSize = 8;

    /// <summary>Whether the connection string sets the pool's maximum size itself (under any of Npgsql's names for it).</summary>
    private static bool NamesPoolSize(string value)
    {
        var parts = new DbConnectionStringBuilder { ConnectionString = value };
        foreach (string keyword in parts.Keys)
        {
            var name = keyword.Replace(" ", "", StringComparison.Ordinal);
            if (name.Equals("MaxPoolSize", StringComparison.OrdinalIgnoreCase) || name.Equals("MaximumPoolSize", StringComparison.OrdinalIgnoreCase)) return true;
        }

        return false;
    }

    private static bool LooksLikeConnectionString(string value)
    {
        if (!value.Contains('=', StringComparison.Ordinal)) return false;
        try
        {
            var parts = new DbConnectionStringBuilder { ConnectionString = value };
            return parts.ContainsKey("Host") || parts.ContainsKey("Server");
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static SessionStoreLocation PostgreSql(string value)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(value);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            // Npgsql's message names the bad keyword, never the password's value.
            throw new ArgumentException($"is not a valid PostgreSQL connection string: {e.Message}");
        }

        if (string.IsNullOrWhiteSpace(builder.Host)) throw new ArgumentException("the PostgreSQL connection string names no Host");
        if (!NamesPoolSize(value)) builder.MaxPoolSize = DefaultMaxPoolSize;
        var database = string.IsNullOrEmpty(builder.Database) ? builder.Username ?? "(default database)" : builder.Database;
        return new SessionStoreLocation(SessionStoreKind.PostgreSql, builder.ConnectionString, $"PostgreSQL {builder.Host}:{builder.Port}/{database}");
    }
}
