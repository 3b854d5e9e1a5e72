using System.Buffers;
using Akka;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// Publishes the pipeline's outputs to MQTT: row r of an output batch goes to
/// <see cref="MqttOptions.OutputTopicTemplate"/> with <c>{key}</c> replaced by its key, as the <c>run</c> verb's
/// output record <c>{"key":"k","seq":12,"y":[…]}</c> (no newline), at <see cref="MqttOptions.Qos"/>.
/// <para>
/// Publishes are serialized in call order, each awaited (QoS 1/2: until the broker acknowledged it), so the
/// outputs of a key reach the broker in the order they are handed in. While the broker is away a publish waits
/// for the reconnect (client id <c>{ClientId}-out</c>) and is then sent again, so with QoS 1/2 an output the
/// broker had received just before the connection broke may be delivered twice (at least once).
/// </para>
/// <para>
/// A row whose key cannot be one topic level (empty, or holding <c>/</c>, <c>+</c>, <c>#</c>: possible for keys
/// from other channels) is not published; it is logged and counted in <see cref="Skipped"/>.
/// </para>
/// <para>
/// Ownership: <see cref="PublishAsync"/> only reads the batch; the caller still owns it and releases it.
/// <see cref="Sink"/> is an egress: it takes ownership of every batch it receives and releases it after
/// publishing all its rows.
/// </para>
/// </summary>
public sealed class MqttOutputPublisher : IAsyncDisposable
{
    private const int TopicCacheSize = 1 << 14;

    private readonly MqttOptions _options;
    private readonly ILogger _logger;
    private readonly MqttConnection _connection;
    private readonly MqttQualityOfServiceLevel _qos;
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly ArrayBufferWriter<byte> _payload = new(256);
    private readonly Dictionary<string, string> _topics = new(StringComparer.Ordinal);
    private readonly TimeSpan _retryPause;
    private long _published, _skipped;

    /// <param name="options">Broker, output topic and QoS (validated here).</param>
    /// <param name="logger">Skipped rows, refused publishes and connection events.</param>
    public MqttOutputPublisher(MqttOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
        _qos = (MqttQualityOfServiceLevel)options.Qos;
        _retryPause = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, options.ReconnectDelay.Ticks / 10));
        _connection = new MqttConnection(options, "-out", null, logger);
    }

    /// <summary>The MQTT client id of the egress connection.</summary>
    public string ClientId => _connection.ClientId;

    /// <summary>Outputs published (and, with QoS 1/2, acknowledged by the broker).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Rows not published because their key cannot be a topic level.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>How many times the connection to the broker has been made (more than 1 after reconnects).</summary>
    public long Connects => _connection.Connects;

    /// <summary>Starts connecting in the background; the broker need not be up yet.</summary>
    public void Start() => _connection.Start();

    /// <summary>Completes once connected.</summary>
    public Task WaitConnectedAsync(CancellationToken cancellationToken) => _connection.WaitConnectedAsync(cancellationToken);

    /// <summary>The topic an output of <paramref name="key"/> goes to.</summary>
    public string OutputTopic(string key) => _options.OutputTopicTemplate.Replace(MqttOptions.KeyPlaceholder, key, StringComparison.Ordinal);

    /// <summary>
    /// Publishes row <paramref name="row"/> of the output batch <paramref name="batch"/> (its vector is the
    /// output <c>y</c>); completes when the broker has it (QoS 1/2) or it was sent (QoS 0). Waits through broker
    /// outages; only <paramref name="cancellationToken"/> stops it. Does not release the batch.
    /// </summary>
    public async Task PublishAsync(StepBatch batch, int row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if ((uint)row >= (uint)batch.Count) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside the batch's {batch.Count} rows");
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = batch.Keys[row];
            if (!MqttTopics.IsValidKeyLevel(key))
            {
                var skipped = Interlocked.Increment(ref _skipped);
                _logger.LogWarning("MQTT output of key '{Key}' (seq {Seq}) not published: the key cannot be a topic level ({Skipped} skipped so far)",
                    key, batch.Seq[row], skipped);
                return;
            }

            _payload.Clear();
            NdjsonOutputFormatter.WriteRow(batch, row, _payload);
            var message = new MqttApplicationMessage
            {
                Topic = TopicOf(key),
                Payload = new ReadOnlySequence<byte>(_payload.WrittenMemory[..^1]),
                QualityOfServiceLevel = _qos,
            };
            await SendAsync(message, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _published);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// An egress sink: publishes every row of each batch in row order, then releases the batch. Materializes a
    /// task that completes when the stream has completed and everything is published (fails when the stream
    /// fails). <paramref name="cancellationToken"/> abandons publishing (e.g. past a shutdown deadline).
    /// </summary>
    public Sink<StepBatch, Task<Done>> Sink(CancellationToken cancellationToken = default) =>
        Flow.Create<StepBatch>()
            .SelectAsync(1, async batch =>
            {
                try
                {
                    for (var r = 0; r < batch.Count; r++) await PublishAsync(batch, r, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    batch.Release();
                }

                return NotUsed.Instance;
            })
            .ToMaterialized(Akka.Streams.Dsl.Sink.Ignore<NotUsed>(), Keep.Right);

    private async Task SendAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        while (true)
        {
            await _connection.WaitConnectedAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var result = await _connection.Client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
                if (!result.IsSuccess)
                    _logger.LogWarning("MQTT broker refused the output on {Topic}: {Reason} {ReasonString}", message.Topic, result.ReasonCode, result.ReasonString);
                return;
            }
            catch (MqttCommunicationException e) when (!cancellationToken.IsCancellationRequested)
            {
                // The connection broke under this publish; wait for the reconnect and send it again.
                _logger.LogDebug("MQTT {ClientId}: publish to {Topic} interrupted ({Reason}); retrying after reconnect",
                    ClientId, message.Topic, e.Message);
                await Task.Delay(_retryPause, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private string TopicOf(string key)
    {
        if (_topics.TryGetValue(key, out var topic)) return topic;
        if (_topics.Count >= TopicCacheSize) _topics.Clear();
        topic = OutputTopic(key);
        _topics.Add(key, topic);
        return topic;
    }

    /// <summary>Disconnects cleanly; publishes still waiting are cancelled by their own tokens, not by this.</summary>
    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
