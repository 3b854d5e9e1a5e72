using System.Threading.Channels;
using LstmStream.Actors.Persistence;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// Acknowledges QoS 1/2 readings to the broker only once the checkpoint covering them is written
/// (<c>Mqtt:Acknowledge = AfterCheckpoint</c>), so after a crash the broker delivers again exactly what the store does not
/// hold. The MQTT handler registers each reading (<see cref="Expect"/>, <see cref="Settle"/>) with automatic
/// acknowledgement off; the channel reports deliveries and publishing; <see cref="CheckpointRounds.Committed"/> and
/// publishing wake one loop that acknowledges (<see cref="MqttApplicationMessageReceivedEventArgs.AcknowledgeAsync"/>) what
/// <see cref="AcknowledgementLedger{T}"/> lets go (a QoS 0 reading is kept in its turn too, and its acknowledgement sends
/// nothing), one after the other in arrival order (mosquitto looks each
/// acknowledgement up in its in-flight list: in order, that is cheap). A checkpoint that fails reports nothing, so nothing
/// more is acknowledged while the store is down; the broker stops sending once Receive Maximum readings are unacknowledged.
/// <para>
/// A reading belongs to the connection (session number) it came on: after a reconnect its packet identifier means nothing
/// on the new connection (the broker delivers such readings again, then the <c>seq</c> check answers them as duplicates),
/// so readings of an earlier connection are passed over, never acknowledged.
/// </para>
/// </summary>
public sealed class MqttAcknowledger
{
    private readonly AcknowledgementLedger<Reading> _ledger = new();
    private readonly CheckpointRounds _rounds;
    private readonly Func<long, bool> _isCurrentSession;
    private readonly ILogger _logger;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly CancellationTokenSource _abandon = new();
    private readonly Task _loop;
    private long _acknowledged, _passedOver;

    /// <param name="rounds">The checkpoints' numbering (must be active: a session store is configured).</param>
    /// <param name="isCurrentSession">Whether readings of this session number may still be acknowledged (its connection is up).</param>
    /// <param name="logger">Failed acknowledgements and readings passed over after a reconnect.</param>
    public MqttAcknowledger(CheckpointRounds rounds, Func<long, bool> isCurrentSession, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(rounds);
        if (!rounds.Active) throw new ArgumentException("acknowledging after the checkpoint needs a session store (no checkpoint is ever taken)", nameof(rounds));
        _rounds = rounds;
        _isCurrentSession = isCurrentSession;
        _logger = logger;
        _rounds.Committed += OnCommitted;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Readings acknowledged to the broker.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Readings received and not yet acknowledged (nor passed over).</summary>
    public long Awaiting => _ledger.Count;

    /// <summary>Readings of an earlier connection that were not acknowledged (the broker delivered them again).</summary>
    public long PassedOver => Interlocked.Read(ref _passedOver);

    /// <summary>The handler: a reading of <paramref name="key"/> goes into the pipeline. Returns its position (for <see cref="Withdraw"/>).</summary>
    public long Expect(string key, MqttApplicationMessageReceivedEventArgs message, long session)
    {
        message.AutoAcknowledge = false;
        return _ledger.Expect(key, new Reading(message, session));
    }

    /// <summary>The handler: a rejected reading (its error record published); acknowledged in its turn.</summary>
    public void Settle(MqttApplicationMessageReceivedEventArgs message, long session)
    {
        message.AutoAcknowledge = false;
        _ledger.Settle(new Reading(message, session));
        Wake();
    }

    /// <summary>The handler: the reading at <paramref name="position"/> did not reach the pipeline after all; never acknowledged.</summary>
    public void Withdraw(long position)
    {
        _ledger.Withdraw(position);
        Wake();
    }

    /// <summary>The pipeline's egress: the output of <paramref name="key"/>'s oldest waiting reading. Returns the reading's position, or -1.</summary>
    public long Delivered(string key) => _ledger.Delivered(key, _rounds.Begun);

    /// <summary>The outputs of the readings at <paramref name="positions"/> were published.</summary>
    public void Published(ReadOnlySpan<long> positions)
    {
        _ledger.Published(positions);
        Wake();
    }

    /// <summary>
    /// Graceful end: acknowledges what the last written checkpoint covers (after the drain's final checkpoint: everything
    /// that checkpoint stored), then stops. <paramref name="deadline"/> abandons the acknowledgements still to send.
    /// </summary>
    public async Task CompleteAsync(CancellationToken deadline)
    {
        _rounds.Committed -= OnCommitted;
        _wake.Writer.TryComplete();
        await using var abandon = deadline.Register(() => _abandon.Cancel()).ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    private void OnCommitted(long round) => Wake();

    private void Wake() => _wake.Writer.TryWrite(true);

    private async Task RunAsync()
    {
        var covered = new List<Reading>();
        while (await _wake.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            _wake.Reader.TryRead(out _);
            await AcknowledgeCoveredAsync(covered).ConfigureAwait(false);
        }

        // Completed: one last pass after the final checkpoint.
        await AcknowledgeCoveredAsync(covered).ConfigureAwait(false);
    }

    private async Task AcknowledgeCoveredAsync(List<Reading> covered)
    {
        covered.Clear();
        _ledger.TakeCovered(_rounds.LastCommitted, covered);
        long passedOver = 0;
        foreach (var reading in covered)
        {
            if (_abandon.IsCancellationRequested || !_isCurrentSession(reading.Session))
            {
                passedOver++;
                continue;
            }

            try
            {
                await reading.Message.AcknowledgeAsync(_abandon.Token).ConfigureAwait(false);
                if (reading.Message.ApplicationMessage.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce) Interlocked.Increment(ref _acknowledged);
            }
            catch (Exception e)
            {
                // The connection broke under it: the broker delivers the reading again on the next connection.
                passedOver++;
                _logger.LogDebug("MQTT: acknowledging a reading failed ({Reason}); the broker delivers it again", e.Message);
            }
        }

        if (passedOver > 0)
        {
            Interlocked.Add(ref _passedOver, passedOver);
            _logger.LogInformation("MQTT: {Readings} reading(s) of an earlier connection not acknowledged: the broker delivers them again and seq answers " +
                                   "what the store already holds as duplicates", passedOver);
        }

        covered.Clear();
    }

    /// <summary>A reading kept for acknowledgement: the message and the session (connection) it came on.</summary>
    private readonly record struct Reading(MqttApplicationMessageReceivedEventArgs Message, long Session);
}
