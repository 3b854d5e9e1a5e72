using System.Threading.Channels;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// <c>LstmStream:Mqtt</c>: readings from an MQTT broker into the shared pipeline, outputs published back.
/// <see cref="MqttRecordIngress"/> subscribes and parses (bad payloads go to the error topic there);
/// every accepted reading holds one unit of the channel's credit until its output has been published by
/// <see cref="MqttOutputPublisher"/>, so a slow broker slows the subscription, not the other channels.
/// <para>
/// With <c>Mqtt:Acknowledge = AfterCheckpoint</c> a reading is acknowledged to the broker only once its output is
/// published and the checkpoint covering it is written (<see cref="MqttAcknowledger"/>): each output row carries its
/// reading's position in the acknowledger's ledger as its tag from <see cref="OnOutput"/> to the publish. At shutdown
/// <see cref="StopAsync"/> stops reading but keeps the connection, and <see cref="FinishAsync"/>, after the drain's final
/// checkpoint, acknowledges what it stored and disconnects.
/// </para>
/// </summary>
public sealed class MqttIngress : IIngress, IChannelOutput, IAsyncDisposable
{
    private readonly MqttChannelSettings _settings;
    private readonly LimitsSettings _limits;
    private readonly ILoggerFactory _loggers;
    private readonly ActorSystem _system;
    private readonly CheckpointRounds _rounds;
    private readonly ChannelMetrics _metrics;
    private readonly MqttAcknowledgement _acknowledge;
    private readonly ILogger<MqttIngress> _logger;
    private readonly Channel<StepBatch> _outputs = Channel.CreateUnbounded<StepBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private readonly SentOutputs _sent = new();
    private MqttRecordIngress? _ingress;
    private MqttAcknowledger? _acknowledger;
    private MqttOutputPublisher? _publisher;
    private PipelineConnection? _connection;
    private StepBatch? _collecting;
    private Task _feed = Task.CompletedTask, _publish = Task.CompletedTask;

    /// <param name="system">Runs the subscription's own stream (readings → submits).</param>
    /// <param name="rounds">The checkpoints' numbering; readings are acknowledged after the checkpoint when it is active (a store is configured) and the settings ask for it.</param>
    /// <param name="metrics">Where the acknowledgement figures are exported.</param>
    public MqttIngress(IOptions<ServiceOptions> options, ActorSystem system, CheckpointRounds rounds, ChannelMetrics metrics, ILoggerFactory loggers)
    {
        _settings = options.Value.Mqtt;
        _limits = options.Value.Limits;
        _system = system;
        _rounds = rounds;
        _metrics = metrics;
        _acknowledge = _settings.AcknowledgeWith(rounds.Active);
        _loggers = loggers;
        _logger = loggers.CreateLogger<MqttIngress>();
    }

    public string Name => "mqtt";

    public string Description =>
        $"mqtt {_settings.Client.Host}:{_settings.Client.Port} {_settings.Client.TopicFilter} → {_settings.Client.OutputTopicTemplate} " +
        $"(acknowledged {(_acknowledge == MqttAcknowledgement.AfterCheckpoint ? "after the checkpoint" : "on receipt")})";

    public Task StartAsync(IPipelineInbox inbox, CancellationToken cancellationToken)
    {
        _connection = inbox.Connect(this, "mqtt", _settings.MaxInFlightRecords);
        _publisher = new MqttOutputPublisher(_settings.Client, _loggers.CreateLogger<MqttOutputPublisher>());
        _ingress = new MqttRecordIngress(_settings.Client, inbox.InputSize, _loggers.CreateLogger<MqttRecordIngress>(), _limits,
            _acknowledge == MqttAcknowledgement.AfterCheckpoint ? _rounds : null);
        _acknowledger = _ingress.Acknowledger;
        var ingress = _ingress;
        // Cluster mode: an owner that left before storing readings delivered here: the broker delivers them again.
        if (_acknowledger is not null) _rounds.OnOwnerLost(ingress.ReconnectAsync);
        _metrics.ObserveMqttAcknowledgement(() => ingress.Acknowledged, () => ingress.AwaitingAcknowledgement);
        _publisher.Start();
        _ingress.Start();
        var connection = _connection;
        var abort = _abort.Token;
        _publish = PublishAsync(connection, _publisher, abort);
        _feed = _ingress.Source
            .SelectAsync(1, async batch =>
            {
                await connection.SubmitAsync(batch, abort).ConfigureAwait(false);
                return Akka.Done.Instance;
            })
            .RunWith(Sink.Ignore<Akka.Done>(), _system.Materializer());
        return Task.CompletedTask;
    }

    /// <summary>
    /// Copies the output row into the batch collected for this routed batch (egress thread only); it is queued for
    /// publishing at <see cref="OnOutputsDelivered"/>.
    /// </summary>
    public void OnOutput(StepBatch batch, int row)
    {
        // A routed batch holds each key at most once, so the collected rows can be published concurrently.
        var collecting = _collecting ??= StepBatch.Rent(batch.Count, batch.Width);
        var key = batch.Keys[row];
        var tag = _acknowledger is null ? batch.Tags[row] : _acknowledger.Delivered(key);
        var r = collecting.Add(key, batch.Seq[row], batch.Flags[row], tag);
        batch.Row(row).CopyTo(collecting.Row(r));
    }

    /// <summary>The routed batch's outputs for MQTT are complete: they are published together (one broker round trip).</summary>
    public void OnOutputsDelivered()
    {
        if (_collecting is not { } collected) return;
        _collecting = null;
        _sent.HandedOver();
        if (!_outputs.Writer.TryWrite(collected))
        {
            _connection!.Release(collected.Count);
            collected.Release();
            _sent.Settled(1);
        }
    }

    /// <summary>Completes once the outputs handed over so far are published (acknowledged by the broker at QoS 1/2) or failed for good.</summary>
    public Task OutputsSentAsync(CancellationToken cancellationToken) => _sent.WaitAsync(cancellationToken);

    /// <summary>The MQTT ingress reports its own parse errors on the error topic; nothing else rejects here.</summary>
    public void OnError(RecordError error)
    {
        _logger.LogWarning("mqtt: rejected record: {Error}", LoggedText.Of(error.ToString(), LoggedText.RecordMaxChars));
        _connection!.Release(1);
    }

    /// <summary>
    /// Stops reading and waits until the output of every accepted reading is published. Acknowledging after the checkpoint,
    /// the broker connection stays up for <see cref="FinishAsync"/>; else it is closed here.
    /// </summary>
    public async Task StopAsync(CancellationToken deadline)
    {
        if (_connection is null) return;
        await using var register = deadline.Register(() => _abort.Cancel()).ConfigureAwait(false);
        try
        {
            if (_acknowledger is not null) _ingress!.StopAccepting();
            else if (_ingress is not null) await _ingress.CompleteAsync().WaitAsync(deadline).ConfigureAwait(false);
            await _feed.WaitAsync(deadline).ConfigureAwait(false);
            await _connection.CompleteInputAsync().WaitAsync(deadline).ConfigureAwait(false);
            _outputs.Writer.TryComplete();
            await _publish.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            _logger.LogWarning("mqtt: shutdown deadline reached with {InFlight} readings still in flight", _connection.Credit.InUse);
        }
        finally
        {
            _outputs.Writer.TryComplete();
            _sent.Close();
            _connection.Close();
            if (_acknowledger is null && _ingress is not null) await _ingress.DisposeAsync().ConfigureAwait(false);
            if (_publisher is not null) await _publisher.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>After the drain's final checkpoint: acknowledges the readings it stored, then disconnects.</summary>
    public async Task FinishAsync(CancellationToken deadline)
    {
        if (_ingress is null) return;
        await _ingress.CompleteAsync(deadline).ConfigureAwait(false);
        await _ingress.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Disconnects what is still connected (a drain cut short by its deadline never reached <see cref="FinishAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ingress is not null) await _ingress.DisposeAsync().ConfigureAwait(false);
    }

    private async Task PublishAsync(PipelineConnection connection, MqttOutputPublisher publisher, CancellationToken abort)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (await _outputs.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // Everything queued while the last publish waited for the broker goes out together, up to the first
            // repeated key (its output waits for the next round, so each key's outputs stay in order).
            var batch = TakeDistinctKeys(keys, out var parts);
            try
            {
                if (!abort.IsCancellationRequested) await publisher.PublishBatchAsync(batch, abort).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                _logger.LogError(e, "mqtt: publishing the outputs of {Records} records (first key {Key}) failed", batch.Count, LoggedText.Of(batch.Keys[0]));
            }
            finally
            {
                // Published (or failed for good and logged): the readings may be acknowledged once their checkpoint is written.
                if (!abort.IsCancellationRequested) _acknowledger?.Published(batch.Tags.AsSpan(0, batch.Count));
                connection.Release(batch.Count);
                batch.Release();
                _sent.Settled(parts);
            }
        }

        _sent.Close();
    }

    /// <summary>The queued output batches merged while their keys are distinct (at least the first, at most 4096 rows).</summary>
    private StepBatch TakeDistinctKeys(HashSet<string> keys, out int parts)
    {
        _outputs.Reader.TryRead(out var first);
        parts = 1;
        keys.Clear();
        for (var r = 0; r < first!.Count; r++) keys.Add(first.Keys[r]);
        List<StepBatch>? merged = null;
        var rows = first.Count;
        while (_outputs.Reader.TryPeek(out var next) && rows + next.Count <= 4096 && AllNew(next, keys))
        {
            _outputs.Reader.TryRead(out _);
            for (var r = 0; r < next.Count; r++) keys.Add(next.Keys[r]);
            (merged ??= [first]).Add(next);
            rows += next.Count;
            parts++;
        }

        keys.Clear();
        if (merged is null) return first;
        var all = StepBatch.Rent(rows, first.Width);
        foreach (var part in merged)
        {
            for (var r = 0; r < part.Count; r++)
            {
                var at = all.Add(part.Keys[r], part.Seq[r], part.Flags[r], part.Tags[r]);
                part.Row(r).CopyTo(all.Row(at));
            }

            part.Release();
        }

        return all;
    }

    private static bool AllNew(StepBatch batch, HashSet<string> keys)
    {
        for (var r = 0; r < batch.Count; r++)
        {
            if (keys.Contains(batch.Keys[r])) return false;
        }

        return true;
    }
}
