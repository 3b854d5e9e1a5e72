
namespace LstmStream.Hosting.Channels;

/// <summary>
/// A source of channels that the service starts and stops: the TCP listener (one channel per connection),
/// stdin/stdout, the simulator, an MQTT client (one channel per subscription). Registered in DI as
/// <c>IIngress</c> (see <c>ServiceHostFactory</c>); <c>ServiceRuntime</c> starts every registered ingress once
/// the pipeline runs and stops them all, before it completes the pipeline, at shutdown.
/// </summary>
public interface IIngress
{
    /// <summary>For the start-up line, after start: "tcp 127.0.0.1:7878".</summary>
    string Description { get; }

    /// <summary>Starts taking input; each channel is connected to <paramref name="inbox"/>.</summary>
    Task StartAsync(IPipelineInbox inbox, CancellationToken cancellationToken);

    /// <summary>
    /// Graceful stop: take no new input, let every record already accepted reach its output and deliver it,
    /// close. When <paramref name="deadline"/> fires, give up at once (what is still in flight is lost).
    /// </summary>
    Task StopAsync(CancellationToken deadline);

    /// <summary>
    /// After every ingress stopped and the drain's final checkpoint was taken (written or not): let go of what was kept
    /// open for it (MQTT acknowledges the readings that checkpoint stored, then disconnects). By default nothing.
    /// </summary>
    Task FinishAsync(CancellationToken deadline) => Task.CompletedTask;
}
