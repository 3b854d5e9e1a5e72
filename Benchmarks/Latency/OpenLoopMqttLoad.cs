using System.Buffers;
using System.Diagnostics;
using HdrHistogram;
using MQTTnet;
using MQTTnet.Protocol;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// The open-loop load generator over MQTT: one client publishes each record to <c>sensors/{key}/reading</c> when it
/// is due (QoS 1, as the service subscribes by default; the publish is not awaited, so a slow acknowledgement does
/// not hold back the next record), another subscribes to <c>lstm/+/output</c> and records, per output, the time from
/// its record's due time to its arrival. The broker's hops (reading in, output out) are part of what is measured.
/// </summary>
internal sealed class OpenLoopMqttLoad : IAsyncDisposable
{
    /// <summary>Most publishes awaiting their acknowledgement at once (the peak run waits beyond that).</summary>
    private const int MaxUnacknowledged = 2000;

    private readonly IMqttClient _publisher;
    private readonly IMqttClient _subscriber;
    private readonly SemaphoreSlim _window = new(MaxUnacknowledged);
    private readonly object _gate = new();
    private OpenLoopSchedule? _schedule;
    private LongHistogram _latency = LatencySummary.NewHistogram();
    private long _received, _failedPublishes;

    private OpenLoopMqttLoad(IMqttClient publisher, IMqttClient subscriber)
    {
        _publisher = publisher;
        _subscriber = subscriber;
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            var now = Stopwatch.GetTimestamp();
            var payload = e.ApplicationMessage.Payload;
            var seq = payload.IsSingleSegment ? RecordLines.SeqOf(payload.FirstSpan) : RecordLines.SeqOf(payload.ToArray());
            lock (_gate)
            {
                _received++;
                if (_schedule is { } schedule && seq >= schedule.WarmUpRecords && seq < schedule.Records)
                    LatencySummary.Record(_latency, now - schedule.DueAt(seq));
            }

            return Task.CompletedTask;
        };
    }

    public static async Task<OpenLoopMqttLoad> ConnectAsync(string host, int port)
    {
        var factory = new MqttClientFactory();
        async Task<IMqttClient> Connect(string id)
        {
            var client = factory.CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(id).WithCleanSession().Build());
            return client;
        }

        var load = new OpenLoopMqttLoad(await Connect($"bench-pub-{Guid.NewGuid():N}"), await Connect($"bench-sub-{Guid.NewGuid():N}"));
        await load._subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("lstm/+/output").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
        return load;
    }

    /// <summary>Publishes a record of one key every 200 ms until one output comes back (the service has subscribed).</summary>
    public async Task WaitUntilServedAsync(RecordLines lines, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        var before = Interlocked.Read(ref _received);
        while (Interlocked.Read(ref _received) == before)
        {
            if (deadline.Elapsed > timeout) throw new TimeoutException($"no output came back through MQTT within {timeout.TotalSeconds} s");
            await _publisher.PublishAsync(Message(lines, 0, 0));
            await Task.Delay(200);
        }
    }

    public OpenLoopTcpLoad.Result Run(RecordLines lines, OpenLoopSchedule schedule)
    {
        var lag = LatencySummary.NewHistogram();
        lock (_gate)
        {
            _schedule = schedule;
            _latency = LatencySummary.NewHistogram();
            _received = 0;
        }

        for (var i = 0L; i < schedule.Records; i++)
        {
            var due = schedule.DueAt(i);
            MonotonicClock.Instance.WaitUntil(due);
            if (i >= schedule.WarmUpRecords) LatencySummary.Record(lag, Stopwatch.GetTimestamp() - due);
            Publish(Message(lines, (int)(i % lines.Keys), i));
        }

        // Outputs still on their way: wait until all are in or nothing more arrives for 5 s.
        var last = -1L;
        var quiet = Stopwatch.StartNew();
        while (Interlocked.Read(ref _received) < schedule.Records && quiet.Elapsed < TimeSpan.FromSeconds(5))
        {
            var now = Interlocked.Read(ref _received);
            if (now != last) quiet.Restart();
            last = now;
            Thread.Sleep(50);
        }

        lock (_gate)
        {
            _schedule = null;
            return new OpenLoopTcpLoad.Result(LatencySummary.From(_latency), LatencySummary.From(lag), schedule.Records, _received, Interlocked.Read(ref _failedPublishes));
        }
    }

    /// <summary>Outputs per second while readings are published as fast as the broker acknowledges them.</summary>
    public double Peak(RecordLines lines, TimeSpan warmUp, TimeSpan measured)
    {
        var stop = false;
        var sender = new Thread(() =>
        {
            for (var i = 0L; !Volatile.Read(ref stop); i++) Publish(Message(lines, (int)(i % lines.Keys), i));
        }) { IsBackground = true };
        sender.Start();
        Thread.Sleep(warmUp);
        var (c0, t0) = (Interlocked.Read(ref _received), Stopwatch.GetTimestamp());
        Thread.Sleep(measured);
        var (c1, t1) = (Interlocked.Read(ref _received), Stopwatch.GetTimestamp());
        Volatile.Write(ref stop, true);
        sender.Join();
        // Let the backlog drain before the next phase.
        var last = -1L;
        while (Interlocked.Read(ref _received) != last)
        {
            last = Interlocked.Read(ref _received);
            Thread.Sleep(1000);
        }

        return (c1 - c0) / Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
    }

    private static MqttApplicationMessage Message(RecordLines lines, int key, long seq) =>
        new MqttApplicationMessageBuilder()
            .WithTopic($"sensors/{RecordLines.KeyName(key)}/reading")
            .WithPayload(lines.Payload(key, seq))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();

    private void Publish(MqttApplicationMessage message)
    {
        _window.Wait();
        _publisher.PublishAsync(message).ContinueWith(t =>
        {
            _window.Release();
            if (!t.IsCompletedSuccessfully) Interlocked.Increment(ref _failedPublishes);
        }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in new[] { _publisher, _subscriber })
        {
            try
            {
                await client.DisconnectAsync();
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or OperationCanceledException)
            {
            }

            client.Dispose();
        }
    }
}
