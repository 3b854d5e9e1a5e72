using LstmStream.Hosting.Operations;
using LstmStream.Pipeline.Streaming;
using LstmStream.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Operations;

public sealed class EvictionLogTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly ListLogger _logger = new();

    private EvictionLog Create() => new(_logger, _time, TimeSpan.FromSeconds(60), maxLiveKeys: 1000, idleTimeout: TimeSpan.FromMinutes(10));

    [Fact]
    public void A_flood_of_evictions_is_one_line_per_interval_with_a_few_escaped_samples()
    {
        using var log = Create();
        log.Record("evil\r\n2026-12-07 fake line\u001b[2J", EvictionReason.Bound);
        for (var i = 0; i < 300_000; i++) log.Record($"flood-{i}", EvictionReason.Bound);
        log.Record("quiet", EvictionReason.Idle);
        Assert.Empty(_logger.Lines);

        _time.Advance(TimeSpan.FromSeconds(60));

        var (level, message) = Assert.Single(_logger.Lines);
        Assert.Equal(LogLevel.Information, level);
        Assert.Equal(
            "Evicted 300002 keys in the last 00:01:00: 300001 at the live-key bound 1000 (least recently used), 1 idle for 00:10:00; " +
            "e.g. 'evil\\x0d\\x0a2026-12-07 fake line\\x1b[2J', 'flood-0', 'flood-1'", message);
        Assert.DoesNotContain('\r', message);
        Assert.DoesNotContain('\u001b', message);
    }

    [Fact]
    public void Each_interval_reports_only_its_own_evictions_and_a_quiet_one_writes_nothing()
    {
        using var log = Create();
        log.Record("a", EvictionReason.Idle);
        _time.Advance(TimeSpan.FromSeconds(60));
        _time.Advance(TimeSpan.FromSeconds(60));
        log.Record("b", EvictionReason.Idle);
        log.Record("c", EvictionReason.Idle);
        _time.Advance(TimeSpan.FromSeconds(60));

        Assert.Equal(
        [
            (LogLevel.Debug, "Evicted 1 keys in the last 00:01:00: 0 at the live-key bound 1000 (least recently used), 1 idle for 00:10:00; e.g. 'a'"),
            (LogLevel.Debug, "Evicted 2 keys in the last 00:01:00: 0 at the live-key bound 1000 (least recently used), 2 idle for 00:10:00; e.g. 'b', 'c'"),
        ], _logger.Lines);
    }

    [Fact]
    public void Disposing_writes_what_is_still_counted_and_stops_the_timer()
    {
        var log = Create();
        log.Record("last", EvictionReason.Bound);
        log.Dispose();
        _time.Advance(TimeSpan.FromSeconds(120));

        Assert.Equal("e.g. 'last'", Assert.Single(_logger.Lines).Message[^11..]);
    }

    [Fact]
    public void A_sample_key_is_cut_to_forty_characters()
    {
        using var log = Create();
        log.Record(new string('k', 5000), EvictionReason.Idle);
        log.Flush();

        Assert.EndsWith($"e.g. '{new string('k', 40)}…(5000 chars)'", Assert.Single(_logger.Lines).Message);
    }
}
