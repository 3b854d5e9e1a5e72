using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// The egress half of the channel contract: what one channel (a TCP connection, stdin/stdout, the simulator,
/// an MQTT subscription) implements so that the shared pipeline can hand back the results of its records.
/// <para>
/// The ingress half is <see cref="PipelineConnection"/>, which <see cref="IPipelineInbox.Connect"/> returns for the
/// channel: the channel parses its input into <see cref="StepBatch"/> fragments and submits them through the
/// connection; each accepted record comes back exactly once, through <see cref="OnOutput"/>, in input order per key.
/// Records the channel rejects itself are reported with <see cref="PipelineConnection.Reject"/>, which passes them
/// to <see cref="OnError"/>.
/// </para>
/// <para>
/// Flow control: every accepted record and every reported error holds one unit of the connection's in-flight
/// credit until the channel calls <see cref="PipelineConnection.Release"/> for it (once its output or error record
/// has left the process: written to the socket, published, counted). A channel whose reader is slow therefore
/// stops being given new input (its <see cref="PipelineConnection.SubmitAsync"/> waits) while the others go on, and
/// what waits for a slow reader is bounded by the connection's credit.
/// </para>
/// </summary>
public interface IChannelOutput
{
    /// <summary>For logs: "tcp 127.0.0.1:53211", "stdin", "simulator".</summary>
    string Name { get; }

    /// <summary>
    /// The output of one accepted record: row <paramref name="row"/> of <paramref name="batch"/> (key, seq,
    /// flags, output vector). Called on the pipeline's egress thread, in pipeline order (input order per key);
    /// must not block and must not keep the batch (it is released after the call): copy or format what is
    /// needed.
    /// </summary>
    void OnOutput(StepBatch batch, int row);

    /// <summary>
    /// Every output of this channel in the batch the outbox is routing has been handed over (<see cref="OnOutput"/>
    /// was called for each): the moment to send what was collected, once per batch rather than once per record.
    /// Called on the pipeline's egress thread, after the batch's last <see cref="OnOutput"/> for this channel; must
    /// not block. By default nothing (a channel that sends in <see cref="OnOutput"/> needs nothing here).
    /// </summary>
    void OnOutputsDelivered()
    {
    }

    /// <summary>
    /// Completes once every output handed over before the call (through <see cref="OnOutputsDelivered"/>) has left the
    /// process for good (MQTT: its publish acknowledged by the broker), or was dropped for good (logged). A checkpoint waits
    /// for this before it writes the state of those steps, so a crash never leaves a step stored whose output was not sent.
    /// By default completed: the channel's outputs need no wait (a connection that is lost loses its unsent outputs
    /// anyway, and its client resends what was not committed).
    /// </summary>
    Task OutputsSentAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// A record of this channel that was rejected (reported through <see cref="PipelineConnection.Reject"/>). Called on
    /// the thread that reported it; must not block.
    /// </summary>
    void OnError(RecordError error);
}
