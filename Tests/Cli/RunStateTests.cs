using System.Globalization;
using System.Text;
using System.Text.Json;
using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Models.Onnx;

namespace LstmStream.Tests.Cli;

/// <summary><c>run --state FILE</c>: the keys' state carried from one run to the next through a SQLite session store.</summary>
public sealed class RunStateTests : IDisposable
{
    private const int Keys = 40;
    private const int StepsPerFile = 6;

    private readonly CliTestFiles _files = new();
    private readonly string _model;
    private readonly string _otherModel;
    private readonly string _dayOne;
    private readonly string _dayTwo;
    private readonly string _bothDays;
    private readonly string _store;

    public RunStateTests()
    {
        _model = _files.PathOf("model.onnx");
        OnnxModelWriter.Write(RandomModel.Create(3, [6, 5], seed: 11), _model);
        _otherModel = _files.PathOf("other.onnx");
        OnnxModelWriter.Write(RandomModel.Create(3, [6, 5], seed: 12), _otherModel);
        var dayOne = Records(0);
        var dayTwo = Records(StepsPerFile);
        _dayOne = _files.Write("day1.ndjson", dayOne);
        _dayTwo = _files.Write("day2.ndjson", dayTwo);
        _bothDays = _files.Write("both.ndjson", dayOne + dayTwo);
        _store = _files.PathOf("state/sessions.db");
    }

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Two_runs_over_consecutive_files_with_state_equal_one_run_over_both_files()
    {
        var whole = await RunAsync(_model, _bothDays);
        var first = await RunAsync(_model, _dayOne, "--state", _store);
        var second = await RunAsync(_model, _dayTwo, "--state", _store);

        Assert.True(File.Exists(_store), "the state file is created with its folder");
        Assert.Equal(whole.Lines, first.Lines.Concat(second.Lines));
        Assert.Contains($"0 key(s) restored, 0 stored state(s) of another model not used (those keys started from zero), {Keys} key(s) saved", first.Error);
        Assert.Contains($"{Keys} key(s) restored, 0 stored state(s) of another model not used", second.Error);
        Assert.Contains($"{Keys} key(s) saved", second.Error);

        // The second day's outputs depend on the first day's state: without it they differ.
        var fresh = await RunAsync(_model, _dayTwo);
        Assert.NotEqual(second.Lines, fresh.Lines);
    }

    [Fact]
    public async Task Records_the_state_already_covers_are_answered_as_duplicates_and_change_nothing()
    {
        await RunAsync(_model, _dayOne, "--state", _store);
        var replay = await RunAsync(_model, _dayOne, "--state", _store);
        var second = await RunAsync(_model, _dayTwo, "--state", _store);

        Assert.Equal(Keys * StepsPerFile, replay.Lines.Length);
        Assert.All(replay.Lines, line =>
        {
            var record = JsonDocument.Parse(line).RootElement;
            Assert.True(record.GetProperty("duplicate").GetBoolean(), line);
            Assert.False(record.TryGetProperty("y", out _), line);
        });
        var whole = await RunAsync(_model, _bothDays);
        Assert.Equal(whole.Lines[(Keys * StepsPerFile)..], second.Lines);
    }

    [Fact]
    public async Task A_stored_state_of_another_model_is_not_used_and_is_counted()
    {
        await RunAsync(_model, _dayOne, "--state", _store);
        var other = await RunAsync(_otherModel, _dayTwo, "--state", _store);
        var fresh = await RunAsync(_otherModel, _dayTwo);

        Assert.Equal(fresh.Lines, other.Lines);
        Assert.Contains($"0 key(s) restored, {Keys} stored state(s) of another model not used (those keys started from zero)", other.Error);
    }

    [Fact]
    public async Task A_store_made_with_another_bucket_count_is_refused_naming_both_counts()
    {
        await RunAsync(_model, _dayOne, "--state", _store, "--state-buckets", "16");
        var run = await CliRun.InvokeAsync("run", "--model", _model, "--input", _dayTwo, "--output", _files.PathOf("refused.ndjson"), "--backend", "managed",
            "--quiet", "--state", _store);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("holds sessions in 16 buckets, but --state-buckets is 256", run.Error);
        Assert.Contains(Path.GetFullPath(_store), run.Error);
    }

    [Fact]
    public async Task State_none_is_refused()
    {
        var run = await CliRun.InvokeAsync("run", "--model", _model, "--input", _dayOne, "--quiet", "--state", "none");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--state", run.Error);
    }

    private async Task<(string[] Lines, string Error)> RunAsync(string model, string input, params string[] more)
    {
        var output = _files.PathOf($"out-{Guid.NewGuid():N}.ndjson");
        var run = await CliRun.InvokeAsync(["run", "--model", model, "--input", input, "--output", output, "--backend", "managed", "--quiet", .. more]);
        Assert.True(run.ExitCode == 0, run.Error);
        return (await File.ReadAllLinesAsync(output), run.Error);
    }

    /// <summary>Every key's steps <paramref name="firstSeq"/>… of one file, keys interleaved as a day's file would be.</summary>
    private static string Records(int firstSeq)
    {
        var text = new StringBuilder();
        for (var step = firstSeq; step < firstSeq + StepsPerFile; step++)
        {
            for (var k = 0; k < Keys; k++)
            {
                var x = string.Join(",", Enumerable.Range(0, 3).Select(i => (MathF.Sin(step * 0.7f + k * 0.3f + i) * 0.9f).ToString("R", CultureInfo.InvariantCulture)));
                text.Append(CultureInfo.InvariantCulture, $$"""{"key":"sensor-{{k}}","seq":{{step}},"x":[{{x}}]}""").Append('\n');
            }
        }

        return text.ToString();
    }
}
