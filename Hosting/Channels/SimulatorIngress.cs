using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LstmStream.Hosting.Options;
using LstmStream.Hosting.Simulation;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// <c>LstmStream:Simulator</c>: a SIMULATED sensor source. <see cref="SensorSimulator"/> records (sine + noise +
/// occasional spikes, keys <c>sim-sensor-N</c>) are produced at the configured rate, parsed like any NDJSON
/// input and fed to the shared pipeline; their outputs are counted and one is sampled into a periodic log line
/// marked SIMULATED, never written anywhere else.
/// </summary>
public sealed class SimulatorIngress : IIngress, IChannelOutput
{
    public const string KeyPrefix = "sim-sensor-";

    private readonly SimulatorChannelSettings _settings;
    private readonly LimitsSettings _limits;
    private readonly TimeProvider _time;
    private readonly ILogger<SimulatorIngress> _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _sampleGate = new();
    private PipelineConnection? _connection;
    private Task _run = Task.CompletedTask;
    private long _outputs, _errors;
    private volatile bool _wantSample = true;
    private string? _sample;

    public SimulatorIngress(IOptions<ServiceOptions> options, ILogger<SimulatorIngress> logger, TimeProvider? time = null)
    {
        _settings = options.Value.Simulator;
        _limits = options.Value.Limits;
        _time = time ?? TimeProvider.System;
        _logger = logger;
    }

    public string Name => "simulator";

    public string Description =>
        $"SIMULATED sensors ({_settings.Keys} keys, {_settings.RecordsPerSecond.ToString(CultureInfo.InvariantCulture)} records/s)";

    /// <summary>Outputs received so far.</summary>
    public long Outputs => Interlocked.Read(ref _outputs);

    public Task StartAsync(IPipelineInbox inbox, CancellationToken cancellationToken)
    {
        _connection = inbox.Connect(this, "simulator", _settings.MaxInFlightRecords);
        _run = RunAsync(_connection, inbox.InputSize, _stop.Token);
        return Task.CompletedTask;
    }

    public void OnOutput(StepBatch batch, int row)
    {
        Interlocked.Increment(ref _outputs);
        if (_wantSample)
        {
            _wantSample = false;
            var y = batch.Row(row);
            var text = new StringBuilder().Append(batch.Keys[row]).Append(" seq ").Append(batch.Seq[row]).Append(" y=[");
            for (var i = 0; i < y.Length; i++) text.Append(i == 0 ? "" : ",").Append(y[i].ToString(CultureInfo.InvariantCulture));
            lock (_sampleGate) _sample = text.Append(']').ToString();
        }

        _connection!.Release(1);
    }

    public void OnError(RecordError error)
    {
        Interlocked.Increment(ref _errors);
        _connection!.Release(1);
    }

    private async Task RunAsync(PipelineConnection connection, int features, CancellationToken stop)
    {
        await Task.Yield();
        var simulator = new SensorSimulator(new SensorSimulatorSettings
        {
            Keys = _settings.Keys,
            Features = features,
            Count = 0,
            SpikeProbability = _settings.SpikeProbability,
            Seed = _settings.Seed,
            KeyPrefix = KeyPrefix,
            // Each run's readings continue above the last run's (microseconds since the Unix epoch, far above any count a
            // run sends per key), so a restart against the durable session store is not answered with duplicates.
            FirstSeq = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000,
        });
        var ready = new List<StepBatch>();
        var maxRows = Math.Min(connection.MaxInFlight, 256);
        using var decoder = new NdjsonBatchDecoder(new NdjsonRecordParser(features, maxKeyBytes: _limits.MaxKeyBytes), maxRows, ready.Add, connection.Reject,
            _limits.MaxLineBytes);
        var text = new ArrayBufferWriter<byte>(1 << 16);
        var clock = Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        long lastOutputs = 0;
        _logger.LogWarning("SIMULATED sensor source is ON: {Keys} simulated keys ({Prefix}N) at {Rate} records/s feed the pipeline; turn it off with --no-simulator or LstmStream:Simulator:Enabled=false",
            _settings.Keys, KeyPrefix, _settings.RecordsPerSecond);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var due = (long)(clock.Elapsed.TotalSeconds * _settings.RecordsPerSecond);
                var count = Math.Min(due - simulator.Produced, maxRows);
                if (count > 0)
                {
                    text.ResetWrittenCount();
                    for (var i = 0; i < count; i++) simulator.WriteNext(text);
                    decoder.Decode(text.WrittenSpan);
                    decoder.Flush();
                    await connection.SubmitAllAsync(ready, stop).ConfigureAwait(false);
                }

                if (clock.Elapsed - lastLog >= _settings.LogInterval)
                {
                    var outputs = Outputs;
                    var seconds = (clock.Elapsed - lastLog).TotalSeconds;
                    string? sample;
                    lock (_sampleGate) sample = _sample;
                    _logger.LogInformation("SIMULATED source: {Sent} records sent, {Outputs} outputs ({Rate:F0}/s); sample output {Sample}",
                        simulator.Produced, outputs, (outputs - lastOutputs) / seconds, sample ?? "(none yet)");
                    lastLog = clock.Elapsed;
                    lastOutputs = outputs;
                    _wantSample = true;
                }

                var next = TimeSpan.FromSeconds((simulator.Produced + 1) / _settings.RecordsPerSecond) - clock.Elapsed;
                if (next > TimeSpan.Zero) await Task.Delay(next < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : next, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (InvalidOperationException e)
        {
            _logger.LogWarning("SIMULATED source stopped: {Reason}", e.Message);
        }
        finally
        {
            foreach (var batch in ready) batch.Release();
        }
    }

    public async Task StopAsync(CancellationToken deadline)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _run.ConfigureAwait(false);
        if (_connection is null) return;
        try
        {
            await _connection.CompleteInputAsync().WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _connection.Close();
        }

        _logger.LogInformation("SIMULATED source stopped after {Accepted} records, {Outputs} outputs", _connection.Accepted, Outputs);
    }
}
