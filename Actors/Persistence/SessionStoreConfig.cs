using Akka.Configuration;
using Akka.Persistence.Sql;

namespace LstmStream.Actors.Persistence;

/// <summary>
/// The Akka configuration of durable sessions: Akka.Persistence.Sql (linq2db) as the journal and snapshot store of
/// the <see cref="SessionStoreLocation"/> (the snapshot store as <see cref="BucketSnapshotStore"/>), tables created on
/// first use, and <see cref="SessionStateSerializer"/> bound to what is stored. The plugin's own defaults are included as a fallback (without them the plugins have no class).
/// </summary>
public static class SessionStoreConfig
{
    /// <summary>The configuration for <paramref name="location"/> (which must not be <see cref="SessionStoreKind.None"/>).</summary>
    public static Config For(SessionStoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (location.Kind == SessionStoreKind.None) throw new ArgumentException("no session store is configured", nameof(location));
        var connection = Quote(location.ConnectionString);
        var provider = Quote(location.ProviderName);
        var serializer = typeof(SessionStateSerializer).AssemblyQualifiedNameWithoutVersion();
        var hocon = $$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  connection-string = {{connection}}
                  provider-name = {{provider}}
                  auto-initialize = true
                }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  # The plugin's store, except that a bucket's snapshot replaces the older ones in the statement that writes it.
                  class = {{Quote(typeof(BucketSnapshotStore).AssemblyQualifiedNameWithoutVersion())}}
                  connection-string = {{connection}}
                  provider-name = {{provider}}
                  auto-initialize = true
                  # The checkpoint coordinator retries with its own backoff (1 s doubling to Checkpoint:MaxRetryDelay);
                  # the plugin's default breaker (open for 60 s after 5 failures) would keep the store refusing for a
                  # minute after the database is back, so it only sheds load for a few seconds here.
                  circuit-breaker {
                    reset-timeout = 5s
                  }
                }
              }
            }
            akka.actor {
              serializers.lstmstream-sessions = {{Quote(serializer)}}
              serialization-bindings {
                {{Quote(typeof(BucketSnapshot).AssemblyQualifiedNameWithoutVersion())}} = lstmstream-sessions
                {{Quote(typeof(BucketCountRecord).AssemblyQualifiedNameWithoutVersion())}} = lstmstream-sessions
              }
              serialization-identifiers {
                {{Quote(serializer)}} = {{SessionStateSerializer.SerializerId}}
              }
            }
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(SqlPersistence.DefaultConfiguration);
    }

    private static string AssemblyQualifiedNameWithoutVersion(this Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
