namespace LstmStream.Hosting.Channels;

/// <summary>
/// What a channel sees of the shared pipeline: the width of its rows and the door in. The service's
/// <c>PipelineHub</c> implements it; an <see cref="IIngress"/> connects each of its channels here and gets a
/// <see cref="PipelineConnection"/> through which it submits records, and the pipeline hands every output
/// back to that channel's <see cref="IChannelOutput"/> (the outbox side).
/// </summary>
public interface IPipelineInbox
{
    /// <summary>The model's input size: the width of every submitted row.</summary>
    int InputSize { get; }

    /// <summary>
    /// Connects a channel: records submitted through the returned connection enter the pipeline, and their
    /// outputs come back to <paramref name="output"/>.
    /// </summary>
    /// <param name="output">Where the outputs and error records of the channel's records go.</param>
    /// <param name="kind">The channel kind, a metric tag: tcp, console, simulator, mqtt.</param>
    /// <param name="maxInFlight">The channel's credit: most records between its input and its output.</param>
    PipelineConnection Connect(IChannelOutput output, string kind, int maxInFlight);
}
