using System.Text.Json;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;
using LstmStream.Pipeline.Numerics;
using LstmStream.Tests.Golden;

namespace LstmStream.Tests.Cli;

/// <summary>The <c>run</c> verb on hand-made input: bad lines, exit status, seq echo, reset/end, bad models.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly CliTestFiles _files = new();
    private readonly LstmModel _model = RandomModel.Create(3, [5, 4], seed: 3);
    private readonly string _modelPath;

    public RunCommandTests()
    {
        _modelPath = _files.PathOf("model.onnx");
        OnnxModelWriter.Write(_model, _modelPath);
    }

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Bad_lines_are_reported_with_line_numbers_and_every_valid_line_is_processed()
    {
        var input = _files.Write("in.ndjson", string.Join("\n",
            """{"key":"a","seq":0,"x":[0.1,0.2,0.3]}""",
            """not json""",
            """{"key":"b","x":[1,2,3]}""",
            """{"seq":5,"x":[1,2,3]}""",
            """{"key":"a","seq":1,"x":[0.1,0.2]}""",
            """{"key":"a","seq":2,"x":[0.5,"0.2",0.3]}""",
            """{"key":"c","x":[1e999,0,0]}""",
            """{"key":"a","seq":3,"x":[0.4,0.5,0.6],"end":true}""") + "\n");
        var outputPath = _files.PathOf("out.ndjson");

        var run = await CliRun.InvokeAsync("run", "--model", _modelPath, "--input", input, "--output", outputPath, "--backend", "managed", "--quiet");

        Assert.Equal(1, run.ExitCode);
        var errors = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([2L, 4, 5, 6, 7], errors.Select(e => e.GetProperty("line").GetInt64()));
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("error").GetString())));
        Assert.Equal("x", errors[2].GetProperty("field").GetString());
        Assert.Equal("a", errors[2].GetProperty("key").GetString());

        var outputs = OutputLines(outputPath);
        Assert.Equal(["a", "b", "a"], outputs.Select(o => o.GetProperty("key").GetString()));
        Assert.Equal(0, outputs[0].GetProperty("seq").GetInt64());
        Assert.False(outputs[1].TryGetProperty("seq", out _), "seq is echoed only when given");
        Assert.Equal(3, outputs[2].GetProperty("seq").GetInt64());

        // Key a's two valid steps are consecutive steps of one sequence: compare with the reference.
        var reference = new StackedLstm(_model, new ManagedMatMul()).Run([0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f], 1, 2);
        Assert.Equal(reference.Outputs[4..8], Values(outputs[2]));
        Assert.Equal(reference.Outputs[..4], Values(outputs[0]));
    }

    [Fact]
    public async Task A_key_over_the_key_limit_is_rejected_and_the_other_lines_still_processed()
    {
        var input = _files.Write("keys.ndjson", string.Join("\n",
            """{"key":"short","x":[0.1,0.2,0.3]}""",
            """{"key":"much-too-long","x":[0.1,0.2,0.3]}""",
            """{"key":"eight888","x":[0.1,0.2,0.3]}""") + "\n");
        var outputPath = _files.PathOf("keys.out.ndjson");

        var run = await CliRun.InvokeAsync("run", "--model", _modelPath, "--input", input, "--output", outputPath, "--backend", "managed",
            "--max-key-bytes", "8");

        Assert.Equal(1, run.ExitCode);
        var error = JsonDocument.Parse(run.Error.Trim()).RootElement;
        Assert.Equal(2, error.GetProperty("line").GetInt64());
        Assert.Equal("key", error.GetProperty("field").GetString());
        Assert.Contains("13 bytes long (UTF-8), more than the 8 bytes a key may have", error.GetProperty("error").GetString());
        Assert.Equal(["short", "eight888"], OutputLines(outputPath).Select(o => o.GetProperty("key").GetString()));
    }

    [Theory]
    [InlineData("--max-key-bytes", "0")]
    [InlineData("--max-line-bytes", "-1")]
    [InlineData("--max-model-bytes", "0")]
    public async Task A_limit_that_is_not_positive_is_refused_naming_the_option(string option, string value)
    {
        var run = await CliRun.InvokeAsync("run", "--model", _modelPath, "--input", _files.Write("one.ndjson", "\n"), option, value);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"{option} must be a positive number of bytes", run.Error);
    }

    [Fact]
    public async Task A_model_over_the_model_size_limit_is_refused_with_the_limit_named()
    {
        var run = await CliRun.InvokeAsync("inspect", "--model", _modelPath, "--max-model-bytes", "100");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("more than the model size limit of 100 bytes", run.Error);
    }

    [Fact]
    public async Task Reset_and_end_restart_a_key_from_zero_state()
    {
        var input = _files.Write("in.ndjson", string.Join("\n",
            """{"key":"k","seq":0,"x":[0.3,-0.2,0.9]}""",
            """{"key":"k","seq":1,"x":[0.3,-0.2,0.9],"end":true}""",
            """{"key":"k","seq":2,"x":[0.3,-0.2,0.9]}""",
            """{"key":"k","seq":3,"x":[0.3,-0.2,0.9]}""",
            """{"key":"k","seq":4,"x":[0.3,-0.2,0.9],"reset":true}"""));
        var outputPath = _files.PathOf("out.ndjson");

        var run = await CliRun.InvokeAsync("run", "--model", _modelPath, "--input", input, "--output", outputPath, "--backend", "managed", "--quiet");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Error);
        var y = OutputLines(outputPath).Select(Values).ToArray();
        Assert.Equal(y[0], y[2]);
        Assert.Equal(y[0], y[4]);
        Assert.Equal(y[1], y[3]);
        Assert.NotEqual(y[0], y[1]);
    }

    /// <summary>The managed kernel computes each row the same way whatever batch it is in, so outputs are bit-identical.</summary>
    [Fact]
    public async Task Outputs_do_not_depend_on_batch_size_or_async_layers()
    {
        var golden = GoldenCase.Load("reset-end");
        var small = _files.PathOf("small.ndjson");
        var large = _files.PathOf("large.ndjson");

        var a = await CliRun.InvokeAsync("run", "--model", golden.Model, "--input", golden.Input, "--output", small, "--batch-rows", "1", "--backend", "managed");
        var b = await CliRun.InvokeAsync("run", "--model", golden.Model, "--input", golden.Input, "--output", large, "--batch-rows", "4096", "--async-layers", "--backend", "managed");

        Assert.Equal((0, 0), (a.ExitCode, b.ExitCode));
        var bySmall = OutputComparison.Read(await File.ReadAllTextAsync(small));
        var byLarge = OutputComparison.Read(await File.ReadAllTextAsync(large));
        Assert.Equal(golden.Steps, bySmall.Count);
        Assert.Equal(bySmall.Keys.Order(), byLarge.Keys.Order());
        foreach (var (key, y) in bySmall) Assert.Equal(y, byLarge[key]);
    }

    [Fact]
    public async Task A_missing_model_is_one_clear_line_and_exit_2()
    {
        var run = await CliRun.InvokeAsync("run", "--model", _files.PathOf("nope.onnx"), "--input", _files.Write("in.ndjson", ""));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("nope.onnx", run.Error);
        Assert.Contains("does not exist", run.Error);
        Assert.DoesNotContain("   at ", run.Error);
    }

    [Fact]
    public async Task An_unsupported_model_names_what_is_wrong()
    {
        var path = _files.Write("weights.npz", "this is not a zip file");

        var run = await CliRun.InvokeAsync("run", "--model", path, "--input", _files.Write("in.ndjson", ""));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("weights.npz", run.Error);
        Assert.DoesNotContain("   at ", run.Error);
    }

    private static JsonElement[] OutputLines(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    private static float[] Values(JsonElement record) => record.GetProperty("y").EnumerateArray().Select(e => e.GetSingle()).ToArray();
}
