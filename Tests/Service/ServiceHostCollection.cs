namespace LstmStream.Tests.Service;

/// <summary>
/// Tests that start the service host run one at a time: the Prometheus exporter listens to every meter named
/// "LstmStream" in the process, so two hosts at once would add up each other's counts.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ServiceHostCollection
{
    public const string Name = "service host";
}
