using LstmStream.Tests.Support;

namespace LstmStream.Tests.Cli;

/// <summary>The real <c>lstmstream</c> executable as a separate process: stdin/stdout, exit codes, stderr.</summary>
public sealed class ExecutableTests
{
    [Fact]
    public async Task Demo_model_over_the_sample_input_through_stdin_and_stdout()
    {
        var root = SharedData.RepositoryRoot;
        var input = await File.ReadAllTextAsync(Path.Combine(root, "samples", "demo.ndjson"));

        var (exit, stdout, stderr) = await RunAsync(input, "run", "--model", Path.Combine(root, "models", "demo.onnx"), "--quiet");

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        Assert.Equal("", stderr);
        var inputLines = input.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        var outputLines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(inputLines, outputLines.Length);
        Assert.All(outputLines, l => Assert.Matches("""^\{"key":"sensor-\d+","seq":\d+,"y":\[[-0-9.E]+\]\}$""", l));
    }

    [Fact]
    public async Task A_bad_line_gives_an_error_record_on_stderr_and_exit_1()
    {
        var model = Path.Combine(SharedData.RepositoryRoot, "models", "demo.onnx");

        var (exit, stdout, stderr) = await RunAsync("{\"key\":\"a\",\"x\":[1,2,3,4]}\n{\"key\":\"b\",\"x\":[1]}\n", "run", "--model", model);

        Assert.Equal(1, exit);
        Assert.StartsWith("{\"key\":\"a\",\"y\":[", stdout);
        Assert.Contains("\"line\":2", stderr);
        Assert.Contains("\"field\":\"x\"", stderr);
    }

    private static Task<(int Exit, string Stdout, string Stderr)> RunAsync(string stdin, params string[] args) =>
        LstmStreamProcess.RunAsync(stdin, null, args);
}
