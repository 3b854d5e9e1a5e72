using System.Buffers;
using System.Text;
using System.Threading.Channels;
using Akka;
using Akka.Streams.Dsl;
using LstmStream.Actors.Persistence;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// Takes sensor readings from an MQTT broker into the pipeline: subscribes to
/// <see cref="MqttClientSettings.TopicFilter"/>, takes each message's key from level
/// <see cref="MqttClientSettings.EffectiveKeyLevel"/> of its topic and parses its payload
/// <c>{"seq":12,"x":[…],"reset":true,"end":true}</c> (as a record of the <c>run</c> verb without its key) into a
/// one-row <see cref="StepBatch"/> fragment whose tag is this ingress's running record number (1, 2, …; rejected
/// messages take a number too). The fragments come out of <see cref="Source"/>, in arrival order.
/// <para>
/// A bad reading (payload not a valid record, key level missing or empty) is not passed on: its
/// <see cref="RecordError"/> goes to <see cref="MqttClientSettings.ErrorTopic"/> (see <see cref="MqttErrorMessage"/>)
/// and to the log, and the following messages go on.
/// </para>
/// <para>
/// Buffering and overload: at most <see cref="MqttClientSettings.IngressBuffer"/> parsed readings wait for the pipeline.
/// When the buffer is full, a QoS 1/2 message waits for room (nothing is acknowledged before it is buffered); meanwhile
/// MQTTnet hands no further message to this ingress and the broker, once this client's in-flight window
/// (<see cref="MqttClientSettings.ReceiveMaximum"/> unacknowledged messages) is used up, queues the rest for it under its
/// own limits (mosquitto: <c>max_queued_messages</c>). A QoS 0 message that finds the buffer full is dropped (at most once
/// is its contract), counted in <see cref="Dropped"/> and logged, so QoS 0 floods cannot grow memory.
/// </para>
/// <para>
/// Acknowledgement: without an <see cref="Acknowledger"/>, MQTTnet acknowledges a QoS 1/2 reading when the handler
/// returns, once it is buffered (or rejected). With one (acknowledgement after the checkpoint), the handler registers the
/// reading there and the <see cref="MqttAcknowledger"/> acknowledges it once a written checkpoint covers it.
/// </para>
/// <para>
/// Delivery: QoS 1/2 readings are at least once. A reading buffered just as the connection broke cannot be
/// acknowledged any more; a broker that kept the session (<see cref="MqttClientSettings.PersistentSession"/>) delivers it
/// again after the reconnect and it is processed twice unless its <c>seq</c> makes it a duplicate. While the handler waits
/// for buffer room, MQTTnet finishes a disconnect only once that room is there, so a stalled pipeline also delays the
/// reconnect.
/// </para>
/// <para>
/// The broker connection is kept up by an <see cref="MqttConnection"/> (client id <c>{ClientId}-in</c>); after a
/// reconnect the subscription is renewed. <see cref="Source"/> is meant to be materialized once; it completes
/// after <see cref="CompleteAsync"/> once every buffered reading has been taken.
/// </para>
/// </summary>
public sealed class MqttRecordIngress : IAsyncDisposable
{
    private readonly MqttClientSettings _options;
    private readonly ILogger _logger;
    private readonly NdjsonRecordParser _parser;
    private readonly Channel<StepBatch> _buffer;
    private readonly MqttConnection _connection;
    private readonly CancellationTokenSource _accepting = new();
    private readonly int _keyLevel;
    private readonly MqttQualityOfServiceLevel _qos;
    private readonly int _maxPayloadBytes;
    private readonly LogBudget _rejectionLog = new();
    private readonly MqttAcknowledger? _acknowledger;
    private long _records, _accepted, _rejected, _dropped, _acknowledgedOnReceipt;
    private int _completed;

    /// <param name="options">Broker, topics and buffering (validated here).</param>
    /// <param name="inputSize">The model's input size: every <c>x</c> must have this length.</param>
    /// <param name="logger">Rejected readings, drops and connection events.</param>
    /// <param name="limits">The longest payload and key (defaults: those of every channel, 1 MiB and 256 bytes).</param>
    /// <param name="acknowledgeAfter">Acknowledge QoS 1/2 readings only once a written checkpoint of these rounds covers them
    /// (the user of <see cref="Source"/> reports deliveries and publishing to <see cref="Acknowledger"/>); null: on receipt.</param>
    public MqttRecordIngress(MqttClientSettings options, int inputSize, ILogger logger, LimitsSettings? limits = null, CheckpointRounds? acknowledgeAfter = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
        limits ??= new LimitsSettings();
        _parser = new NdjsonRecordParser(inputSize, maxKeyBytes: limits.MaxKeyBytes);
        _maxPayloadBytes = limits.MaxLineBytes;
        _keyLevel = options.EffectiveKeyLevel;
        _qos = (MqttQualityOfServiceLevel)options.Qos;
        _buffer = Channel.CreateBounded<StepBatch>(new BoundedChannelOptions(options.IngressBuffer)
        {
            SingleWriter = true,
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Source = ChannelSource.FromReader(_buffer.Reader);
        _connection = new MqttConnection(options, "-in", SubscribeAsync, logger, receivesReadings: true);
        _connection.Client.ApplicationMessageReceivedAsync += OnMessageAsync;
        if (acknowledgeAfter is not null) _acknowledger = new MqttAcknowledger(acknowledgeAfter, _connection.IsCurrent, logger);
    }

    /// <summary>
    /// The readings as one-row fragments for <see cref="LstmPipeline"/>; the stream takes ownership of each batch
    /// it pulls (the pipeline's egress releases it).
    /// </summary>
    public Source<StepBatch, NotUsed> Source { get; }

    /// <summary>The MQTT client id of the ingress connection.</summary>
    public string ClientId => _connection.ClientId;

    /// <summary>Messages received so far (the last record number handed out).</summary>
    public long Received => Interlocked.Read(ref _records);

    /// <summary>Readings passed on to <see cref="Source"/>'s buffer.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Readings rejected as bad (each one reported on the error topic).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>QoS 0 readings dropped because the buffer was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>How many times the connection to the broker has been made (more than 1 after reconnects).</summary>
    public long Connects => _connection.Connects;

    /// <summary>Acknowledges readings once the checkpoint covering them is written; null when they are acknowledged on receipt.</summary>
    public MqttAcknowledger? Acknowledger => _acknowledger;

    /// <summary>QoS 1/2 readings acknowledged to the broker.</summary>
    public long Acknowledged => _acknowledger?.Acknowledged ?? Interlocked.Read(ref _acknowledgedOnReceipt);

    /// <summary>QoS 1/2 readings received and not acknowledged yet (always 0 when acknowledging on receipt).</summary>
    public long AwaitingAcknowledgement => _acknowledger?.Awaiting ?? 0;

    /// <summary>Starts connecting and subscribing in the background; the broker need not be up yet.</summary>
    public void Start() => _connection.Start();

    /// <summary>Drops the broker connection and makes it again: the broker delivers again what was not acknowledged (<see cref="MqttConnection.ReconnectAsync"/>).</summary>
    public Task ReconnectAsync() => _connection.ReconnectAsync();

    /// <summary>Completes once connected and subscribed.</summary>
    public Task WaitConnectedAsync(CancellationToken cancellationToken) => _connection.WaitConnectedAsync(cancellationToken);

    private async Task SubscribeAsync(IMqttClient client, CancellationToken cancellationToken)
    {
        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(_options.TopicFilter).WithQualityOfServiceLevel(_qos))
            .Build();
        var result = await client.SubscribeAsync(subscribe, cancellationToken).ConfigureAwait(false);
        foreach (var item in result.Items)
        {
            if ((int)item.ResultCode > (int)MqttClientSubscribeResultCode.GrantedQoS2)
                throw new InvalidOperationException($"the broker refused the subscription to '{_options.TopicFilter}': {item.ResultCode}");
        }

        _logger.LogInformation("MQTT {ClientId}: subscribed to {TopicFilter} (QoS {Qos}), key from topic level {KeyLevel}",
            ClientId, _options.TopicFilter, _options.Qos, _keyLevel);
    }

    /// <summary>Called by MQTTnet for one message at a time; MQTTnet acknowledges (QoS 1/2) when this returns.</summary>
    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        if (_accepting.IsCancellationRequested)
        {
            // Shutting down: leave it unacknowledged, so the broker delivers it again to the next session.
            e.AutoAcknowledge = false;
            return;
        }

        var message = e.ApplicationMessage;
        var topic = message.Topic;
        var session = _connection.Session;
        var tag = Interlocked.Increment(ref _records);
        var batch = StepBatch.Rent(1, _parser.InputSize);
        RecordError? error;
        if (!MqttTopics.TryGetLevel(topic, _keyLevel, out var key))
        {
            error = new RecordError(tag, null, "topic", $"topic '{topic}' has no level {_keyLevel} to take the key from");
        }
        else if (message.Payload.Length > _maxPayloadBytes)
        {
            var shownKey = Encoding.UTF8.GetByteCount(key) <= _parser.MaxKeyBytes ? new string(key) : null;
            error = new RecordError(tag, shownKey, null,
                $"payload is {message.Payload.Length} bytes, more than the {_maxPayloadBytes} bytes a record may have (Limits:MaxLineBytes)");
        }
        else if (Parse(message.Payload, key, tag, batch, out error) == LineOutcome.Blank)
        {
            error = new RecordError(tag, new string(key), null, "empty payload; expected {\"seq\":…,\"x\":[…]}");
        }

        if (error is not null)
        {
            batch.Release();
            Interlocked.Increment(ref _rejected);
            if (_rejectionLog.TryWrite(out var heldBack))
            {
                if (heldBack == 0) _logger.LogWarning("MQTT reading on {Topic} rejected: {Error}", LoggedText.Of(topic), LoggedText.Of(error.ToString(), LoggedText.RecordMaxChars));
                else
                    _logger.LogWarning("MQTT reading on {Topic} rejected: {Error} ({HeldBack} rejected readings before it were not logged, at most {Lines} lines a minute)",
                        LoggedText.Of(topic), LoggedText.Of(error.ToString(), LoggedText.RecordMaxChars), heldBack, _rejectionLog.LinesPerInterval);
            }

            await PublishErrorAsync(error, topic).ConfigureAwait(false);
            if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce) return;
            if (_acknowledger is not null) _acknowledger.Settle(e, session);
            else Interlocked.Increment(ref _acknowledgedOnReceipt);
            return;
        }

        // Registered before it is buffered: its output may come back before this handler goes on. A QoS 0 reading is
        // registered too (its acknowledgement sends nothing), so each output of its key is matched with its own reading.
        var position = _acknowledger?.Expect(batch.Keys[0], e, session) ?? -1;
        if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
        {
            if (_buffer.Writer.TryWrite(batch))
            {
                Interlocked.Increment(ref _accepted);
                return;
            }

            _acknowledger?.Withdraw(position);
            batch.Release();
            var dropped = Interlocked.Increment(ref _dropped);
            if (dropped == 1 || dropped % 1000 == 0)
                _logger.LogWarning("MQTT ingress buffer full ({Capacity} readings): QoS 0 reading on {Topic} dropped ({Dropped} so far)",
                    _options.IngressBuffer, LoggedText.Of(topic), dropped);
            return;
        }

        try
        {
            await _buffer.Writer.WriteAsync(batch, _accepting.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _accepted);
            if (_acknowledger is null) Interlocked.Increment(ref _acknowledgedOnReceipt);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            batch.Release();
            e.AutoAcknowledge = false;
            if (_acknowledger is not null) _acknowledger.Withdraw(position);
        }
    }

    private LineOutcome Parse(ReadOnlySequence<byte> payload, ReadOnlySpan<char> key, long tag, StepBatch batch, out RecordError? error)
    {
        if (payload.IsSingleSegment) return _parser.ParseWithKey(payload.FirstSpan, key, tag, batch, out error);
        var length = checked((int)payload.Length);
        var copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(copy);
            return _parser.ParseWithKey(copy.AsSpan(0, length), key, tag, batch, out error);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private async Task PublishErrorAsync(RecordError error, string topic)
    {
        var message = new MqttApplicationMessage
        {
            Topic = _options.ErrorTopic,
            Payload = new ReadOnlySequence<byte>(MqttErrorMessage.Format(error, topic)),
            QualityOfServiceLevel = _qos,
        };
        try
        {
            await _connection.Client.PublishAsync(message, _accepting.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogWarning("MQTT {ClientId}: could not publish the error record to {ErrorTopic}: {Reason}",
                ClientId, _options.ErrorTopic, e.GetBaseException().Message);
        }
    }

    /// <summary>
    /// Stops taking readings but stays connected (graceful shutdown with acknowledgement after the checkpoint: the final
    /// checkpoint's acknowledgements still have to go out): messages not yet buffered stay unacknowledged for the broker
    /// to deliver again, and <see cref="Source"/> completes once the pipeline has taken every buffered reading.
    /// </summary>
    public void StopAccepting()
    {
        if (_accepting.IsCancellationRequested) return;
        _accepting.Cancel();
        _buffer.Writer.TryComplete();
    }

    /// <summary>
    /// Stops taking readings (<see cref="StopAccepting"/>), acknowledges what the last written checkpoint covers (with an
    /// <see cref="Acknowledger"/>; <paramref name="deadline"/> abandons that) and closes the connection.
    /// </summary>
    public async Task CompleteAsync(CancellationToken deadline = default)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        _accepting.Cancel();
        if (_acknowledger is not null) await _acknowledger.CompleteAsync(deadline).ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _buffer.Writer.TryComplete();
    }

    /// <summary>
    /// <see cref="CompleteAsync"/>, then releases any reading still buffered (one the stream never took). Dispose
    /// after the stream has finished; a stream still running loses what is left.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await CompleteAsync().ConfigureAwait(false);
        while (_buffer.Reader.TryRead(out var batch)) batch.Release();
        _accepting.Dispose();
    }
}
