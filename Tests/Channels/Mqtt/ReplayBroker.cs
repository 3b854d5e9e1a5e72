namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>
/// A mosquitto broker configured as the README asks for acknowledgement after the checkpoint: no limit on the messages
/// queued for a client (<c>max_queued_messages 0</c>), so readings published while the service is away or its in-flight
/// window is full are kept, not dropped.
/// </summary>
public sealed class ReplayBroker : IAsyncLifetime
{
    public MosquittoBroker Broker { get; } = MosquittoBroker.WithListener("max_queued_messages 0", allowAnonymous: true);

    public Task InitializeAsync() => Broker.InitializeAsync();

    public Task DisposeAsync() => Broker.DisposeAsync();
}
