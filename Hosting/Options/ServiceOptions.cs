namespace LstmStream.Hosting.Options;

/// <summary>
/// Every setting of <c>lstmstream serve</c>, bound from the configuration section <see cref="SectionName"/>
/// (appsettings.json, environment variables such as <c>LstmStream__Tcp__Endpoint</c>, command-line
/// overrides such as <c>--LstmStream:Batch:MaxRows=512</c>) and checked at start by
/// <see cref="ServiceOptionsValidator"/>.
/// </summary>
public sealed class ServiceOptions
{
    public const string SectionName = "LstmStream";

    public ModelSettings Model { get; set; } = new();
    public MathSettings Math { get; set; } = new();
    public BatchSettings Batch { get; set; } = new();
    public SessionSettings Sessions { get; set; } = new();
    public LimitsSettings Limits { get; set; } = new();
    public TcpSettings Tcp { get; set; } = new();
    public ConsoleChannelSettings Console { get; set; } = new();
    public SimulatorChannelSettings Simulator { get; set; } = new();
    public MqttChannelSettings Mqtt { get; set; } = new();
    /// <summary><c>LstmStream:Cluster</c>: several nodes sharing the keys (off by default).</summary>
    public ClusterSettings Cluster { get; set; } = new();

    public HttpSettings Http { get; set; } = new();
    public ShutdownSettings Shutdown { get; set; } = new();

    /// <summary>How often one statistics line (steps, steps/s, live keys, channels, records in flight) is logged; zero: never.</summary>
    public TimeSpan StatisticsInterval { get; set; } = TimeSpan.FromSeconds(10);
}
