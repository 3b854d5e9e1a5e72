using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Cli;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Cli;

/// <summary>
/// <c>run</c> as a real process reading a named pipe the test holds open, so the run is still going when the
/// progress must show: stderr gets the progress, stdout only the records.
/// </summary>
public sealed class RunProgressProcessTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly CliTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Progress_goes_to_stderr_while_stdout_carries_exactly_the_records_of_a_quiet_run()
    {
        if (!OperatingSystem.IsLinux()) return;
        var lines = InputLines();
        var fifo = MakeFifo("in.fifo");
        using var run = StartRun("--input", fifo, "--progress-interval", "0.05");
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = new BlockingCollection<string>();
        var reading = Task.Run(async () =>
        {
            while (await run.StandardError.ReadLineAsync() is { } line) stderr.Add(line);
            stderr.CompleteAdding();
        });
        try
        {
            await using (var writer = await OpenForWritingAsync(fifo))
            {
                await writer.WriteAsync(string.Join("\n", lines) + "\n");
                await writer.FlushAsync();
                // Every line has been read while the input is still open: a progress line must say so.
                var seen = new List<string>();
                while (!seen.Any(l => l.StartsWith($"run: {lines.Length:N0} lines read", StringComparison.Ordinal) && l.Contains(" 1 rejected", StringComparison.Ordinal)))
                {
                    if (!stderr.TryTake(out var line, Patience)) throw new TimeoutException($"no progress line within {Patience}: {string.Join("\n", seen)}");
                    seen.Add(line);
                }
            }

            using var exit = new CancellationTokenSource(Patience);
            await run.WaitForExitAsync(exit.Token);
            await reading;
            Assert.Equal(RunCommand.LinesRejected, run.ExitCode);
            var errorLines = stderr.ToList();
            Assert.All(errorLines.Where(l => !l.StartsWith("run: ", StringComparison.Ordinal)),
                l => Assert.Equal(3, JsonDocument.Parse(l).RootElement.GetProperty("line").GetInt64()));
            Assert.Contains(errorLines, l => l.StartsWith($"run: done: {lines.Length:N0} lines read", StringComparison.Ordinal));

            // The same input through a quiet run: the same records on stdout, and nothing but the error on stderr.
            using var quiet = StartRun("--input", _files.Write("in.ndjson", string.Join("\n", lines) + "\n"), "--quiet", "--progress-interval", "0.05");
            var quietOut = quiet.StandardOutput.ReadToEndAsync();
            var quietErr = quiet.StandardError.ReadToEndAsync();
            await quiet.WaitForExitAsync(exit.Token);
            Assert.Equal(RunCommand.LinesRejected, quiet.ExitCode);
            Assert.Equal(3, JsonDocument.Parse(Assert.Single((await quietErr).Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement.GetProperty("line").GetInt64());
            var records = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(lines.Length - 1, records.Length);
            Assert.Equal(NdjsonClient.ByKey(records), NdjsonClient.ByKey((await quietOut).Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        }
        finally
        {
            if (!run.HasExited) run.Kill();
        }
    }

    [Fact]
    public async Task On_a_terminal_the_progress_is_one_line_rewritten_in_place()
    {
        if (!OperatingSystem.IsLinux()) return;
        var lines = InputLines().Where((_, i) => i != 2).ToArray(); // without the bad line
        var fifo = MakeFifo("tty.fifo");
        var output = _files.PathOf("out.ndjson");
        // script(1) runs the command on a pseudo-terminal: its stderr is a terminal, its records go to a file.
        var command = string.Join(' ', new[] { "dotnet", Dll, "run", "--model", Model, "--backend", "managed", "--input", fifo, "--output", output, "--progress-interval", "0.05" });
        var start = new ProcessStartInfo("script", ["-qefc", command, "/dev/null"])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        using var script = Process.Start(start)!;
        var terminal = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await script.StandardOutput.ReadAsync(buffer)) > 0)
                lock (terminal) terminal.Append(buffer, 0, read);
        });
        try
        {
            await using (var writer = await OpenForWritingAsync(fifo))
            {
                await writer.WriteAsync(string.Join("\n", lines) + "\n");
                await writer.FlushAsync();
                var deadline = Stopwatch.StartNew();
                while (!Text().Contains($"\r\u001b[Krun: {lines.Length:N0} lines read", StringComparison.Ordinal))
                {
                    if (deadline.Elapsed > Patience) throw new TimeoutException($"no in-place progress within {Patience}: {Text()}");
                    await Task.Delay(20);
                }
            }

            using var exit = new CancellationTokenSource(Patience);
            await script.WaitForExitAsync(exit.Token);
            await reading;
            Assert.Equal(0, script.ExitCode);
            var text = Text();
            var done = text.IndexOf($"\r\u001b[Krun: done: {lines.Length:N0} lines read", StringComparison.Ordinal);
            Assert.True(done > 0, text);
            // Until the final line no line end: every update overwrote the one before; the final line ends the line.
            Assert.DoesNotContain('\n', text[..done]);
            Assert.EndsWith("\n", text, StringComparison.Ordinal);
            Assert.Equal(lines.Length, File.ReadAllLines(output).Length);
        }
        finally
        {
            if (!script.HasExited) script.Kill(entireProcessTree: true);
        }

        string Text()
        {
            lock (terminal) return terminal.ToString();
        }
    }

    private static string Dll => Path.Combine(Path.GetDirectoryName(typeof(CliApplication).Assembly.Location)!, "lstmstream.dll");

    private static string Model => RunningService.DemoModel;

    private static string[] InputLines() =>
        Enumerable.Range(0, 3000).Select(i => i == 2 ? "{\"key\":\"k\",\"x\":[1]}" : NdjsonClient.Record($"k{i % 37}", i, 0.1f * (i % 7), 0.2f, -0.3f, 0.4f)).ToArray();

    private Process StartRun(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Dll, "run", "--model", Model, "--backend", "managed" }.Concat(args)) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    private string MakeFifo(string name)
    {
        var path = _files.PathOf(name);
        using var mkfifo = Process.Start("mkfifo", [path])!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    /// <summary>Opening a named pipe for writing waits for its reader: the run must open it within the patience.</summary>
    private static async Task<StreamWriter> OpenForWritingAsync(string fifo)
    {
        var opening = Task.Run(() => new StreamWriter(new FileStream(fifo, FileMode.Open, FileAccess.Write), new UTF8Encoding(false)));
        return await opening.WaitAsync(Patience);
    }
}
