using LstmStream.Hosting.Cli;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Cli;

/// <summary>The progress of <c>run</c> on stderr, on an injected clock.</summary>
public sealed class RunProgressTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly StringWriter _error = new();
    private long _lines;
    private long _liveKeys;

    private RunProgress Start(bool inPlace) =>
        new(_error, inPlace, TimeSpan.FromSeconds(5), () => _lines, () => _liveKeys, _time);

    [Fact]
    public void Plain_lines_report_lines_read_lines_per_second_live_keys_rejected_and_elapsed_at_each_interval()
    {
        var progress = Start(inPlace: false);
        (_lines, _liveKeys) = (1000, 7);
        _time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Equal("", _error.ToString());

        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal("run: 1,000 lines read, 200 lines/s, 7 live keys, 0 rejected, 00:00:05.0 elapsed\n", _error.ToString());

        progress.Errors.WriteLine("""{"line":1001,"error":"bad"}""");
        (_lines, _liveKeys) = (11_000, 9);
        _time.Advance(TimeSpan.FromSeconds(5));
        progress.Finish(lines: 12_000);

        Assert.Equal(
            "run: 1,000 lines read, 200 lines/s, 7 live keys, 0 rejected, 00:00:05.0 elapsed\n" +
            "{\"line\":1001,\"error\":\"bad\"}\n" +
            "run: 11,000 lines read, 2,000 lines/s, 9 live keys, 1 rejected, 00:00:10.0 elapsed\n" +
            "run: done: 12,000 lines read, 1,200 lines/s, 9 live keys, 1 rejected, 00:00:10.0 elapsed\n",
            _error.ToString());
        Assert.Equal(1, progress.Rejected);
    }

    [Fact]
    public void On_a_terminal_the_line_is_rewritten_in_place_and_erased_before_an_error_record()
    {
        var progress = Start(inPlace: true);
        _lines = 500;
        _time.Advance(TimeSpan.FromSeconds(5));
        _lines = 1500;
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(
            "\r\u001b[Krun: 500 lines read, 100 lines/s, 0 live keys, 0 rejected, 00:00:05.0 elapsed" +
            "\r\u001b[Krun: 1,500 lines read, 200 lines/s, 0 live keys, 0 rejected, 00:00:10.0 elapsed",
            _error.ToString());

        _error.GetStringBuilder().Clear();
        progress.Errors.WriteLine("{\"line\":3}");
        _time.Advance(TimeSpan.FromSeconds(5));
        progress.Finish(lines: 1500);

        Assert.Equal(
            "\r\u001b[K{\"line\":3}\n" +
            "\r\u001b[Krun: 1,500 lines read, 0 lines/s, 0 live keys, 1 rejected, 00:00:15.0 elapsed" +
            "\r\u001b[Krun: done: 1,500 lines read, 100 lines/s, 0 live keys, 1 rejected, 00:00:15.0 elapsed\n",
            _error.ToString());
    }

    [Fact]
    public void A_run_that_ends_before_the_first_report_prints_only_its_error_records()
    {
        var progress = Start(inPlace: true);
        progress.Errors.WriteLine("{\"line\":1}");
        _time.Advance(TimeSpan.FromSeconds(2));
        progress.Finish(lines: 10);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal("{\"line\":1}\n", _error.ToString());
    }

    [Fact]
    public async Task A_run_that_fails_after_an_in_place_report_leaves_the_line_ended()
    {
        var progress = Start(inPlace: true);
        _lines = 5;
        _time.Advance(TimeSpan.FromSeconds(5));

        await progress.DisposeAsync();
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal("\r\u001b[Krun: 5 lines read, 1 lines/s, 0 live keys, 0 rejected, 00:00:05.0 elapsed\n", _error.ToString());
    }

    [Fact]
    public void Quiet_means_no_progress_at_all()
    {
        Assert.Null(RunProgress.ForCommandLine(_error, quiet: true, intervalSeconds: 0.01, () => 0, () => 0));
    }

    [Fact]
    public async Task A_progress_interval_of_zero_is_refused_with_the_option_named()
    {
        var run = await CliRun.InvokeAsync("run", "--model", "any.onnx", "--progress-interval", "0");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--progress-interval must be a number of seconds above 0", run.Error, StringComparison.Ordinal);
    }
}
