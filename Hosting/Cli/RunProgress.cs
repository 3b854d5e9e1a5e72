using System.Globalization;
using System.Text;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// The progress of a long <c>run</c> on stderr, never on stdout: lines read, lines/s since the last report, live
/// keys, rejected lines, elapsed time. On a terminal one line is updated in place (<c>\r</c>, erased to the end);
/// otherwise one plain line per report, for logs. A run that ends before the first report prints nothing; after
/// one, a final line gives the totals. Rejected lines' error records go through <see cref="Errors"/>, which counts
/// them and erases the in-place line first, so the two never share a line.
/// </summary>
internal sealed class RunProgress : IAsyncDisposable
{
    /// <summary>Between in-place updates on a terminal.</summary>
    public static readonly TimeSpan TerminalInterval = TimeSpan.FromSeconds(0.5);

    /// <summary>Between plain lines when stderr is a file or a pipe.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);

    private const string EraseLine = "\r\u001b[K";

    private readonly TextWriter _error;
    private readonly bool _inPlace;
    private readonly Func<long> _linesRead;
    private readonly Func<long> _liveKeys;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly object _gate = new();
    private readonly ITimer _timer;
    private long _lastLines;
    private long _lastTimestamp;
    private long _rejected;
    private bool _reported;
    private bool _lineShown;
    private bool _finished;

    public RunProgress(TextWriter error, bool inPlace, TimeSpan interval, Func<long> linesRead, Func<long> liveKeys, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _error = error;
        _inPlace = inPlace;
        _linesRead = linesRead;
        _liveKeys = liveKeys;
        _time = time ?? TimeProvider.System;
        _started = _lastTimestamp = _time.GetTimestamp();
        Errors = new ErrorWriter(this);
        _timer = _time.CreateTimer(_ => Report(), null, interval, interval);
    }

    /// <summary>Where the run writes its error records (one line per rejected input line).</summary>
    public TextWriter Errors { get; }

    /// <summary>Rejected lines so far (error records written through <see cref="Errors"/>).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>
    /// Null with <paramref name="quiet"/>; else progress in place when <paramref name="error"/> is the console's
    /// stderr and a terminal, as plain lines otherwise; <paramref name="intervalSeconds"/> overrides the interval.
    /// </summary>
    public static RunProgress? ForCommandLine(TextWriter error, bool quiet, double? intervalSeconds, Func<long> linesRead, Func<long> liveKeys)
    {
        if (quiet) return null;
        var terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        var interval = intervalSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : terminal ? TerminalInterval : LogInterval;
        return new RunProgress(error, terminal, interval, linesRead, liveKeys);
    }

    /// <summary>Stops reporting; after at least one report, writes the totals (<paramref name="lines"/> read in all).</summary>
    public void Finish(long lines)
    {
        _timer.Dispose();
        lock (_gate)
        {
            if (_finished) return;
            _finished = true;
            if (!_reported) return;
            var elapsed = _time.GetElapsedTime(_started);
            var rate = elapsed > TimeSpan.Zero ? lines / elapsed.TotalSeconds : 0;
            Show(Format("done: ", lines, rate, _liveKeys(), Rejected, elapsed));
            if (_inPlace) _error.Write('\n');
            _lineShown = false;
            _error.Flush();
        }
    }

    private void Report()
    {
        lock (_gate)
        {
            if (_finished) return;
            var now = _time.GetTimestamp();
            var lines = _linesRead();
            var seconds = _time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
            var rate = seconds > 0 ? (lines - _lastLines) / seconds : 0;
            (_lastLines, _lastTimestamp) = (lines, now);
            Show(Format("", lines, rate, _liveKeys(), Rejected, _time.GetElapsedTime(_started, now)));
            _error.Flush();
            _reported = true;
        }
    }

    private void Show(string line)
    {
        if (_inPlace)
        {
            _error.Write(EraseLine + line);
            _lineShown = true;
        }
        else
        {
            _error.Write(line + "\n");
        }
    }

    private static string Format(string prefix, long lines, double linesPerSecond, long liveKeys, long rejected, TimeSpan elapsed) =>
        string.Create(CultureInfo.InvariantCulture,
            $"run: {prefix}{lines:N0} lines read, {linesPerSecond:N0} lines/s, {liveKeys:N0} live keys, {rejected:N0} rejected, {(long)elapsed.TotalHours:00}:{elapsed:mm\\:ss\\.f} elapsed");

    private void WriteErrorLine(string? line)
    {
        Interlocked.Increment(ref _rejected);
        lock (_gate)
        {
            if (_lineShown)
            {
                _error.Write(EraseLine);
                _lineShown = false;
            }

            _error.Write(line + "\n");
        }
    }

    /// <summary>Stops reporting; a line left in place (the run failed or was cancelled) is ended, so what follows starts a line.</summary>
    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _finished = true;
            if (!_lineShown) return;
            _error.Write('\n');
            _lineShown = false;
        }
    }

    /// <summary>The error-record writer: each <see cref="WriteLine(string)"/> is one rejected line.</summary>
    private sealed class ErrorWriter(RunProgress progress) : TextWriter
    {
        public override Encoding Encoding => progress._error.Encoding;

        public override void WriteLine(string? value) => progress.WriteErrorLine(value);

        public override void Write(char value)
        {
            lock (progress._gate)
            {
                if (progress._lineShown)
                {
                    progress._error.Write(EraseLine);
                    progress._lineShown = false;
                }

                progress._error.Write(value);
            }
        }

        public override void Flush()
        {
            lock (progress._gate) progress._error.Flush();
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flush();
            return Task.CompletedTask;
        }
    }
}
