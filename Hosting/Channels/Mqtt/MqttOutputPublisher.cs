using System.Buffers;
using Akka;
using Akka.Streams.Dsl;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// Publishes the pipeline's outputs to MQTT: row r of an output batch goes to
/// <see cref="MqttClientSettings.OutputTopicTemplate"/> with <c>{key}</c> replaced by its key, as the <c>run</c> verb's
/// output record <c>{"key":"k","seq":12,"y":[…]}</c> (no newline), at <see cref="MqttClientSettings.Qos"/>.
/// <para>
/// Calls are serialized in call order and each is awaited (QoS 1/2: until the broker acknowledged it) before the
/// next starts, so the outputs of a key reach the broker in the order they are handed in; within one batch
/// (<see cref="PublishBatchAsync"/>, <see cref="Sink"/>) the rows, of distinct keys, are published concurrently. While the broker is away a publish waits
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

    private readonly MqttClientSettings _options;
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
    public MqttOutputPublisher(MqttClientSettings options, ILogger logger)
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
    public string OutputTopic(string key) => _options.OutputTopicTemplate.Replace(MqttClientSettings.KeyPlaceholder, key, StringComparison.Ordinal);

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
            if (!CanPublish(batch, row)) return;
            _payload.Clear();
            NdjsonOutputFormatter.WriteRow(batch, row, _payload);
            await SendAsync(Message(batch.Keys[row], _payload.WrittenMemory[..^1]), cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _published);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// Publishes every row of the output batch <paramref name="batch"/> at once (the publishes overlap, so one batch
    /// costs about one broker round trip) and completes when all are done. Rows of one batch must have distinct
    /// keys, as the pipeline's output batches have; successive calls keep each key's order. Does not release the
    /// batch.
    /// </summary>
    public async Task PublishBatchAsync(StepBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) return;
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        var rows = ArrayPool<int>.Shared.Rent(batch.Count);
        var ends = ArrayPool<int>.Shared.Rent(batch.Count);
        try
        {
            _payload.Clear();
            var count = 0;
            for (var r = 0; r < batch.Count; r++)
            {
                if (!CanPublish(batch, r)) continue;
                NdjsonOutputFormatter.WriteRow(batch, r, _payload);
                rows[count] = r;
                ends[count++] = _payload.WrittenCount;
            }

            // Slices are taken once every row is written: the writer may move its buffer while it grows.
            var sends = new Task[count];
            var start = 0;
            for (var i = 0; i < count; i++)
            {
                sends[i] = SendAsync(Message(batch.Keys[rows[i]], _payload.WrittenMemory[start..(ends[i] - 1)]), cancellationToken);
                start = ends[i];
            }

            await Task.WhenAll(sends).ConfigureAwait(false);
            Interlocked.Add(ref _published, count);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rows);
            ArrayPool<int>.Shared.Return(ends);
            _serial.Release();
        }
    }

    /// <summary>
    /// An egress sink: publishes each batch with <see cref="PublishBatchAsync"/>, one batch after the other, then releases it. Materializes a
    /// task that completes when the stream has completed and everything is published (fails when the stream
    /// fails). <paramref name="cancellationToken"/> abandons publishing (e.g. past a shutdown deadline).
    /// </summary>
    public Sink<StepBatch, Task<Done>> Sink(CancellationToken cancellationToken = default) =>
        Flow.Create<StepBatch>()
            .SelectAsync(1, async batch =>
            {
                try
                {
                    await PublishBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    batch.Release();
                }

                return NotUsed.Instance;
            })
            .ToMaterialized(Akka.Streams.Dsl.Sink.Ignore<NotUsed>(), Keep.Right);

    private bool CanPublish(StepBatch batch, int row)
    {
        var key = batch.Keys[row];
        if (MqttTopics.IsValidKeyLevel(key)) return true;
        var skipped = Interlocked.Increment(ref _skipped);
        _logger.LogWarning("MQTT output of key '{Key}' (seq {Seq}) not published: the key cannot be a topic level ({Skipped} skipped so far)",
            LoggedText.Of(key), batch.Seq[row], skipped);
        return false;
    }

    private MqttApplicationMessage Message(string key, ReadOnlyMemory<byte> payload) => new()
    {
        Topic = TopicOf(key),
        Payload = new ReadOnlySequence<byte>(payload),
        QualityOfServiceLevel = _qos,
    };

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
