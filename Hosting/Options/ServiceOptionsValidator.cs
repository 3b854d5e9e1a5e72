using System.Net;
using LstmStream.Actors.Persistence;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics.Selection;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Options;

/// <summary>
/// Checks <see cref="ServiceOptions"/> at start. Every failure names the configuration key
/// (<c>LstmStream:Batch:MaxRows</c>) and the reason, so a bad setting stops the start with a clear line.
/// </summary>
public sealed class ServiceOptionsValidator : IValidateOptions<ServiceOptions>
{
    private readonly string _contentRoot;

    public ServiceOptionsValidator(string contentRoot) => _contentRoot = contentRoot;

    public ValidateOptionsResult Validate(string? name, ServiceOptions options)
    {
        var failures = Check(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>One message per bad setting: "LstmStream:Section:Key: reason".</summary>
    public List<string> Check(ServiceOptions o)
    {
        var failures = new List<string>();
        void Fail(string key, string reason) => failures.Add($"{ServiceOptions.SectionName}:{key}: {reason}");

        if (string.IsNullOrWhiteSpace(o.Model.Path)) Fail("Model:Path", "is empty; name a model file (.onnx, .safetensors, .npz)");
        else if (ModelFile.Resolve(o.Model.Path, _contentRoot) is null)
            Fail("Model:Path", $"model file '{o.Model.Path}' does not exist (looked in {Directory.GetCurrentDirectory()} and {_contentRoot})");
        else if (!ModelLoader.SupportedExtensions.Contains(System.IO.Path.GetExtension(o.Model.Path), StringComparer.OrdinalIgnoreCase))
            Fail("Model:Path", $"'{System.IO.Path.GetExtension(o.Model.Path)}' is not a supported model format (supported: {string.Join(", ", ModelLoader.SupportedExtensions)})");
        if (!float.IsFinite(o.Model.ForgetBias)) Fail("Model:ForgetBias", $"must be a finite number, got {o.Model.ForgetBias}");
        if (o.Model.CellClip is { } cc && !(cc > 0 && float.IsFinite(cc))) Fail("Model:CellClip", $"must be positive, got {cc}");
        if (o.Model.ProjectionClip is { } pc && !(pc > 0 && float.IsFinite(pc))) Fail("Model:ProjectionClip", $"must be positive, got {pc}");
        if (!Enum.IsDefined(o.Model.HeadActivation)) Fail("Model:HeadActivation", $"unknown activation {o.Model.HeadActivation}");
        if (o.Model.MaxBytes <= 0) Fail("Model:MaxBytes", $"must be a positive number of bytes, got {o.Model.MaxBytes}");

        if (!MatMulBackendRegistry.Names.Contains(o.Math.Backend?.Trim().ToLowerInvariant() ?? ""))
            Fail("Math:Backend", $"unknown backend '{o.Math.Backend}'; expected one of {string.Join(", ", MatMulBackendRegistry.Names)}");
        if (o.Math.Threads is < 1 or > 1024) Fail("Math:Threads", $"must be within 1..1024, got {o.Math.Threads}");

        if (o.Batch.MaxRows < 1) Fail("Batch:MaxRows", $"must be positive, got {o.Batch.MaxRows}");
        if (!(o.Batch.MaxDelayMilliseconds >= 0) || o.Batch.MaxDelayMilliseconds > 60_000)
            Fail("Batch:MaxDelayMilliseconds", $"must be within [0, 60000] (0: no wait, batches form on demand), got {o.Batch.MaxDelayMilliseconds}");

        if (o.Sessions.IdleTimeout < TimeSpan.Zero) Fail("Sessions:IdleTimeout", $"must not be negative (zero: never), got {o.Sessions.IdleTimeout}");
        if (o.Sessions.EvictionLogInterval <= TimeSpan.Zero)
            Fail("Sessions:EvictionLogInterval", $"must be positive, got {o.Sessions.EvictionLogInterval}");
        if (o.Sessions.MaxLiveKeys < 0) Fail("Sessions:MaxLiveKeys", $"must not be negative (zero: no bound), got {o.Sessions.MaxLiveKeys}");
        else if (o.Sessions.MaxLiveKeys > 0 && o.Sessions.MaxLiveKeys < o.Batch.MaxRows)
            Fail("Sessions:MaxLiveKeys", $"must be at least Batch:MaxRows ({o.Batch.MaxRows}): every key of a batch holds state at once, got {o.Sessions.MaxLiveKeys}");

        if (o.Limits.MaxLineBytes < LimitsSettings.MinLineBytes)
            Fail("Limits:MaxLineBytes", $"must be at least {LimitsSettings.MinLineBytes} bytes, got {o.Limits.MaxLineBytes}");
        if (o.Limits.MaxKeyBytes < 1) Fail("Limits:MaxKeyBytes", $"must be positive, got {o.Limits.MaxKeyBytes}");
        else if (o.Limits.MaxKeyBytes > o.Limits.MaxLineBytes)
            Fail("Limits:MaxKeyBytes", $"must not exceed Limits:MaxLineBytes ({o.Limits.MaxLineBytes}): a key is part of a line, got {o.Limits.MaxKeyBytes}");
        var store = ValidateStore(o.Sessions, Fail);
        ValidateCluster(o.Cluster, o.Sessions, Fail);

        if (o.Tcp.Enabled)
        {
            if (!HostPort.TryParse(o.Tcp.Endpoint, out var tcpEndpoint, out var reason)) Fail("Tcp:Endpoint", reason);
            else if (!IPAddress.IsLoopback(tcpEndpoint.Address) && !o.Tcp.Tls.Enabled && !o.Tcp.AllowPlaintext)
                Fail("Tcp:Endpoint", $"'{o.Tcp.Endpoint}' is not a loopback address and Tcp:Tls is not configured: anyone who reaches the port " +
                                     "could feed any key; set Tcp:Tls:CertificateFile (and KeyFile), or Tcp:AllowPlaintext=true on a network protected otherwise");
            ValidateTls(o.Tcp, Fail);
            ValidateClients(o.Tcp, Fail, problem => failures.Add($"{ServiceOptions.SectionName}:{problem}"));
            if (o.Tcp.MaxInFlightRecords < 1) Fail("Tcp:MaxInFlightRecords", $"must be positive, got {o.Tcp.MaxInFlightRecords}");
            if (o.Tcp.IdleTimeout < TimeSpan.Zero) Fail("Tcp:IdleTimeout", $"must not be negative (zero: never), got {o.Tcp.IdleTimeout}");
            if (o.Tcp.MaxConnections < 1) Fail("Tcp:MaxConnections", $"must be positive, got {o.Tcp.MaxConnections}");
            if (o.Tcp.SendBufferBytes < 0) Fail("Tcp:SendBufferBytes", $"must not be negative (0: the OS default), got {o.Tcp.SendBufferBytes}");
            if (o.Tcp.ReadBufferBytes < 256) Fail("Tcp:ReadBufferBytes", $"must be at least 256, got {o.Tcp.ReadBufferBytes}");
        }

        if (o.Console.Enabled && o.Console.MaxInFlightRecords < 1)
            Fail("Console:MaxInFlightRecords", $"must be positive, got {o.Console.MaxInFlightRecords}");

        if (o.Simulator.Enabled)
        {
            if (o.Simulator.Keys < 1) Fail("Simulator:Keys", $"must be positive, got {o.Simulator.Keys}");
            if (!(o.Simulator.RecordsPerSecond > 0) || double.IsInfinity(o.Simulator.RecordsPerSecond))
                Fail("Simulator:RecordsPerSecond", $"must be a positive number, got {o.Simulator.RecordsPerSecond}");
            if (o.Simulator.SpikeProbability is < 0 or > 1 || double.IsNaN(o.Simulator.SpikeProbability))
                Fail("Simulator:SpikeProbability", $"must be within 0..1, got {o.Simulator.SpikeProbability}");
            if (o.Simulator.LogInterval <= TimeSpan.Zero) Fail("Simulator:LogInterval", $"must be positive, got {o.Simulator.LogInterval}");
            if (o.Simulator.MaxInFlightRecords < 1) Fail("Simulator:MaxInFlightRecords", $"must be positive, got {o.Simulator.MaxInFlightRecords}");
        }

        if (o.Mqtt.Enabled)
        {
            if (o.Mqtt.MaxInFlightRecords < 1) Fail("Mqtt:MaxInFlightRecords", $"must be positive, got {o.Mqtt.MaxInFlightRecords}");
            if (o.Mqtt.Acknowledge == MqttAcknowledgement.AfterCheckpoint)
            {
                const string why = "AfterCheckpoint acknowledges a reading once the checkpoint covering it is written";
                if (store.Kind == SessionStoreKind.None) Fail("Mqtt:Acknowledge", $"{why}, and Sessions:Store is none; configure a store or use OnReceipt");
                else if (o.Mqtt.Client.Qos == 0) Fail("Mqtt:Acknowledge", $"{why}, and QoS 0 readings are never acknowledged (Mqtt:Client:Qos is 0); use Qos 1 or 2");
                else if (!o.Mqtt.Client.PersistentSession)
                    Fail("Mqtt:Acknowledge", $"{why}, so the broker must keep unacknowledged readings across a restart; set Mqtt:Client:PersistentSession=true");
            }
            else if (o.Mqtt.Acknowledge is { } acknowledge && !Enum.IsDefined(acknowledge))
            {
                Fail("Mqtt:Acknowledge", $"unknown value {acknowledge}; expected AfterCheckpoint or OnReceipt");
            }

            try
            {
                o.Mqtt.Client.Validate();
            }
            catch (ArgumentException e)
            {
                var reason = e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)
                    .Replace($"Mqtt:{e.ParamName} ", "", StringComparison.Ordinal);
                Fail($"Mqtt:Client:{e.ParamName}", reason);
            }
        }

        if (o.Http.Enabled)
        {
            if (!HostPort.TryParse(o.Http.Endpoint, out var http, out var reason)) Fail("Http:Endpoint", reason);
            else if (!IPAddress.IsLoopback(http.Address))
                Fail("Http:Endpoint", $"'{o.Http.Endpoint}' is not a loopback address; the admin path can drop and reset keys, so it listens on loopback only");
            o.Http.ReadAdminToken(out var tokenProblem);
            if (tokenProblem is not null) failures.Add($"{ServiceOptions.SectionName}:{tokenProblem}");
        }

        if (!o.Tcp.Enabled && !o.Console.Enabled && !o.Simulator.Enabled && !o.Mqtt.Enabled)
            failures.Add($"{ServiceOptions.SectionName}:Tcp:Enabled: every ingress is off (Tcp, Console, Simulator, Mqtt); enable at least one");

        if (o.StatisticsInterval < TimeSpan.Zero) Fail("StatisticsInterval", $"must not be negative (zero: off), got {o.StatisticsInterval}");
        if (o.Shutdown.Deadline <= TimeSpan.Zero || o.Shutdown.Deadline > TimeSpan.FromHours(1))
            Fail("Shutdown:Deadline", $"must be within (0, 1 hour], got {o.Shutdown.Deadline}");
        return failures;
    }

    /// <summary>Checks the durable-session settings; returns the store they name (none when the setting is bad).</summary>
    private static SessionStoreLocation ValidateStore(SessionSettings sessions, Action<string, string> fail)
    {
        var location = SessionStoreLocation.None;
        try
        {
            location = sessions.StoreLocation();
        }
        catch (ArgumentException e)
        {
            fail("Sessions:Store", e.Message);
        }

        if (sessions.Buckets is < 1 or > 65_536) fail("Sessions:Buckets", $"must be within 1..65536, got {sessions.Buckets}");
        if (sessions.EvictTo is { } evictTo && !evictTo.Trim().Equals("store", StringComparison.OrdinalIgnoreCase) &&
            !evictTo.Trim().Equals("discard", StringComparison.OrdinalIgnoreCase))
            fail("Sessions:EvictTo", $"must be 'store' or 'discard', got '{evictTo}'");
        else if (location.Kind == SessionStoreKind.None && sessions.EvictsToStore(location))
            fail("Sessions:EvictTo", "is 'store' but Sessions:Store is 'none'; configure a store or evict to 'discard'");
        if (sessions.Checkpoint.Interval <= TimeSpan.Zero) fail("Sessions:Checkpoint:Interval", $"must be positive, got {sessions.Checkpoint.Interval}");
        if (sessions.Checkpoint.MaxRetryDelay < TimeSpan.FromSeconds(1))
            fail("Sessions:Checkpoint:MaxRetryDelay", $"must be at least 1 second, got {sessions.Checkpoint.MaxRetryDelay}");
        if (sessions.StoreTimeout <= TimeSpan.Zero) fail("Sessions:StoreTimeout", $"must be positive, got {sessions.StoreTimeout}");
        if (sessions.BucketIdleTimeout < TimeSpan.Zero)
            fail("Sessions:BucketIdleTimeout", $"must not be negative (zero: buckets stay in memory), got {sessions.BucketIdleTimeout}");
        return location;
    }

    private static void ValidateCluster(ClusterSettings cluster, SessionSettings sessions, Action<string, string> fail)
    {
        if (!cluster.Enabled) return;
        if (string.IsNullOrWhiteSpace(cluster.Hostname)) fail("Cluster:Hostname", "must name the address other nodes reach this one at, got nothing");
        if (cluster.Port is < 0 or > 65_535) fail("Cluster:Port", $"must be within 0..65535 (0: any free port), got {cluster.Port}");
        var seedPrefix = $"akka.tcp://{ClusterSettings.SystemName}@";
        for (var i = 0; i < cluster.SeedNodes.Count; i++)
        {
            var seed = cluster.SeedNodes[i];
            if (seed is null || !seed.StartsWith(seedPrefix, StringComparison.Ordinal) ||
                !HasHostAndPort(seed[seedPrefix.Length..]))
                fail($"Cluster:SeedNodes:{i}", $"must be {seedPrefix}host:port, got '{seed}'");
        }

        if (cluster.SeedNodes.Count > 0 && cluster.Port == 0)
            fail("Cluster:Port", "is 0 (any free port) but Cluster:SeedNodes are given: the other nodes must know this node's port; name it");
        if (cluster.Shards < 1 || cluster.Shards > sessions.Buckets)
            fail("Cluster:Shards", $"must be within 1..Sessions:Buckets ({sessions.Buckets}): a shard holds whole buckets, got {cluster.Shards}");
        if (!ClusterSettings.SplitBrainStrategies.Contains(cluster.SplitBrain?.Trim() ?? "", StringComparer.OrdinalIgnoreCase))
            fail("Cluster:SplitBrain", $"must be keep-majority, keep-oldest or off, got '{cluster.SplitBrain}'");
        if (cluster.HandOffTimeout <= TimeSpan.Zero) fail("Cluster:HandOffTimeout", $"must be positive, got {cluster.HandOffTimeout}");
        if (cluster.RebalanceLimit < 0) fail("Cluster:RebalanceLimit", $"must be 0 (no rebalancing) or more, got {cluster.RebalanceLimit}");
        if (cluster.StableAfter <= TimeSpan.Zero) fail("Cluster:StableAfter", $"must be positive, got {cluster.StableAfter}");
        if (cluster.RebalanceInterval <= TimeSpan.Zero) fail("Cluster:RebalanceInterval", $"must be positive, got {cluster.RebalanceInterval}");
        SessionStoreLocation location;
        try
        {
            location = sessions.StoreLocation();
        }
        catch (ArgumentException)
        {
            return; // named under Sessions:Store already
        }

        if (location.Kind == SessionStoreKind.None)
            fail("Cluster:Enabled", "needs a session store (Sessions:Store): a bucket's keys move between nodes through it; name a SQLite file for one node, a PostgreSQL database for several");
        else if (location.Kind == SessionStoreKind.Sqlite && cluster.SeedNodes.Count > 0)
            fail("Cluster:SeedNodes", "name other nodes but Sessions:Store is a SQLite file, which only this process can reach: nodes of a cluster share one PostgreSQL store");
    }

    /// <summary>host:port, the host a name or an address.</summary>
    private static bool HasHostAndPort(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) &&
               port is > 0 and <= 65_535 && Uri.CheckHostName(text[..colon]) != UriHostNameType.Unknown;
    }

    private static void ValidateTls(TcpSettings tcp, Action<string, string> fail)
    {
        var tls = tcp.Tls;
        if (!tls.Enabled)
        {
            if (!string.IsNullOrWhiteSpace(tls.ClientCaFile))
                fail("Tcp:Tls:ClientCaFile", "client certificates need TLS: set Tcp:Tls:CertificateFile too");
            return;
        }

        if (!File.Exists(tls.CertificateFile)) fail("Tcp:Tls:CertificateFile", $"'{tls.CertificateFile}' does not exist");
        var pkcs12 = System.IO.Path.GetExtension(tls.CertificateFile!).ToLowerInvariant() is ".pfx" or ".p12";
        if (!pkcs12 && string.IsNullOrWhiteSpace(tls.KeyFile))
            fail("Tcp:Tls:KeyFile", "a PEM certificate needs its private key file (or give a .pfx / .p12 CertificateFile)");
        foreach (var (key, file) in new[] { ("Tcp:Tls:KeyFile", tls.KeyFile), ("Tcp:Tls:PfxPasswordFile", tls.PfxPasswordFile), ("Tcp:Tls:ClientCaFile", tls.ClientCaFile) })
        {
            if (!string.IsNullOrWhiteSpace(file) && !File.Exists(file)) fail(key, $"'{file}' does not exist");
        }
    }

    private static void ValidateClients(TcpSettings tcp, Action<string, string> fail, Action<string> failSecret)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        bool mutualTls = tcp.Tls.Enabled && !string.IsNullOrWhiteSpace(tcp.Tls.ClientCaFile);
        for (var i = 0; i < tcp.Clients.Count; i++)
        {
            var client = tcp.Clients[i];
            var key = $"Tcp:Clients:{i}";
            if (string.IsNullOrWhiteSpace(client.Name)) fail($"{key}:Name", "is empty; name the client (its certificate's CN under mutual TLS)");
            else if (!names.Add(client.Name)) fail($"{key}:Name", $"'{client.Name}' is named twice");
            if (client.KeyPrefixes.Count == 0) fail($"{key}:KeyPrefixes", "is empty; list the key prefixes this client may write (\"\" for every key)");
            var token = SecretSetting.Read(client.Token, client.TokenFile, $"{key}:Token", TcpClientSettings.MinTokenLength, out var problem);
            if (problem is not null) failSecret(problem);
            else if (token is null && !mutualTls) fail($"{key}:Token", "is not set: without mutual TLS (Tcp:Tls:ClientCaFile) a client proves who it is with its token");
            else if (token is not null && !tokens.Add(token)) fail($"{key}:Token", "is the token of another client too; give each client its own");
        }
    }
}
