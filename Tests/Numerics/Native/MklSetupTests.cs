using System.Globalization;
using System.Text.Json;
using LstmStream.Pipeline.Numerics.Native;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Numerics.Native;

/// <summary>
/// MKL's threading layer: sequential by default with LstmStream's own workers, the OpenMP layers only with their
/// runtime loaded first, and every failure a reason instead of a dead process. The layer is chosen once per process,
/// so the layers other than this process's run in child processes (<c>lstmstream run</c> with
/// <c>MKL_THREADING_LAYER</c> set).
/// </summary>
public sealed class MklSetupTests
{
    private static readonly string DemoModel = Path.Combine(SharedData.RepositoryRoot, "models", "demo.onnx");
    private static readonly string DemoInput = Path.Combine(SharedData.RepositoryRoot, "samples", "demo.ndjson");

    [Fact]
    public void The_threading_layer_is_read_from_MKL_THREADING_LAYER_and_defaults_to_sequential()
    {
        foreach (var (value, expected) in new (string?, MklThreadingLayer)[]
                 {
                     (null, MklThreadingLayer.Sequential), ("", MklThreadingLayer.Sequential), (" sequential ", MklThreadingLayer.Sequential),
                     ("GNU", MklThreadingLayer.Gnu), ("gnu", MklThreadingLayer.Gnu), ("Intel", MklThreadingLayer.Intel),
                 })
        {
            Assert.True(MklLibrary.TryParseLayer(value, out var layer, out var reason), reason);
            Assert.Equal(expected, layer);
        }

        Assert.False(MklLibrary.TryParseLayer("TBB", out _, out var refused));
        Assert.Equal("MKL_THREADING_LAYER=TBB is not a threading layer LstmStream runs MKL on: expected SEQUENTIAL (the default), GNU or INTEL", refused);
        Assert.Equal(["libgomp.so.1"], MklLibrary.OpenMpRuntimes(MklThreadingLayer.Gnu));
        Assert.Equal(["libiomp5.so", "libomp.so.5"], MklLibrary.OpenMpRuntimes(MklThreadingLayer.Intel));
        Assert.Empty(MklLibrary.OpenMpRuntimes(MklThreadingLayer.Sequential));
    }

    [NativeBackendFact(MatMulBackendRegistry.Mkl)]
    public void Mkl_runs_on_the_layer_asked_for_and_splits_big_multiplies_over_its_own_workers()
    {
        Assert.True(MklLibrary.TryParseLayer(Environment.GetEnvironmentVariable(MklLibrary.LayerVariable), out var expected, out _));
        using var backend = new MklMatMul(threads: 2);
        Assert.Equal(expected, backend.Layer);
        Assert.Contains($"{MklLibrary.LayerName((int)expected)} layer", backend.ToString());
        if (expected == MklThreadingLayer.Sequential) Assert.EndsWith("2 threads (LstmStream's workers))", backend.ToString());

        // Split by rows (300 rows), by column blocks (5 rows, 1000 columns: not a multiple of the block), not at all (small).
        var random = new Random(17);
        foreach (var (m, k, n) in new[] { (300, 144, 512), (5, 640, 1000), (3, 40, 50), (17, 256, 1024) })
        {
            BackendReferenceTests.Check(backend, GemmCase.Create(random, m, k, n, withBias: true));
            BackendReferenceTests.Check(backend, GemmCase.Create(random, m, k, n, withBias: false));
        }
    }

    [NativeBackendFact(MatMulBackendRegistry.Mkl)]
    public async Task On_the_GNU_OpenMP_layer_mkl_runs_the_demo_model_like_the_managed_kernel()
    {
        var expected = await RunDemoAsync(null, "managed", 1);
        Assert.True(expected.Exit == 0, expected.Stderr);
        foreach (var threads in new[] { 1, 2 })
        {
            var gnu = await RunDemoAsync("GNU", "mkl", threads);
            Assert.True(gnu.Exit == 0, $"exit {gnu.Exit}: {gnu.Stderr}");
            AssertSameOutputs(expected.Stdout, gnu.Stdout);
        }
    }

    [NativeBackendFact(MatMulBackendRegistry.Mkl)]
    public async Task The_Intel_OpenMP_layer_runs_only_with_its_runtime_and_otherwise_mkl_reports_why()
    {
        var runtime = MklLibrary.OpenMpRuntimes(MklThreadingLayer.Intel).FirstOrDefault(f => DynamicLinker.TryOpen(f, DynamicLinker.Lazy, out _, out _));
        var named = await RunDemoAsync("INTEL", "mkl", 2);
        if (runtime is not null)
        {
            Assert.True(named.Exit == 0, $"{runtime} is installed, yet: exit {named.Exit}: {named.Stderr}");
            AssertSameOutputs((await RunDemoAsync(null, "managed", 1)).Stdout, named.Stdout);
            return;
        }

        // Without the runtime: a clear error (never exit 127, "symbol lookup error"), and auto runs on the others.
        Assert.True(named.Exit == 2, $"exit {named.Exit}: {named.Stderr}");
        Assert.Contains("math backend 'mkl' is not available: MKL_THREADING_LAYER=INTEL asks for Intel MKL's INTEL OpenMP layer, but its OpenMP runtime could not be loaded", named.Stderr);
        Assert.Contains("libiomp5.so: cannot open shared object file", named.Stderr);
        Assert.Contains("Unset MKL_THREADING_LAYER for the sequential layer", named.Stderr);
        var auto = await RunDemoAsync("INTEL", "auto", 1);
        Assert.True(auto.Exit == 0, $"exit {auto.Exit}: {auto.Stderr}");
        AssertSameOutputs((await RunDemoAsync(null, "managed", 1)).Stdout, auto.Stdout);
    }

    [Fact]
    public async Task An_unknown_MKL_THREADING_LAYER_is_named_in_the_error()
    {
        var run = await RunDemoAsync("TBB", "mkl", 1);
        Assert.Equal(2, run.Exit);
        Assert.Contains("math backend 'mkl' is not available: MKL_THREADING_LAYER=TBB is not a threading layer", run.Stderr);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunDemoAsync(string? layer, string backend, int threads) =>
        await LstmStreamProcess.RunAsync(await File.ReadAllTextAsync(DemoInput), new Dictionary<string, string?> { [MklLibrary.LayerVariable] = layer },
            "run", "--model", DemoModel, "--backend", backend, "--threads", threads.ToString(CultureInfo.InvariantCulture));

    /// <summary>The same records (key and seq; lines of different keys may come in another order), every output within 1e-5.</summary>
    private static void AssertSameOutputs(string expected, string actual)
    {
        var want = Outputs(expected);
        var got = Outputs(actual);
        Assert.NotEmpty(want);
        Assert.Equal(want.Keys.Order(), got.Keys.Order());
        foreach (var (record, wy) in want)
        {
            var gy = got[record];
            Assert.Equal(wy.Length, gy.Length);
            for (var j = 0; j < wy.Length; j++) Assert.True(Math.Abs(wy[j] - gy[j]) <= 1e-5f, $"{record}: y[{j}] {gy[j]:R}, managed {wy[j]:R}");
        }
    }

    private static Dictionary<string, float[]> Outputs(string ndjson) =>
        ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            return (Record: $"{root.GetProperty("key").GetString()}#{root.GetProperty("seq").GetInt64()}",
                Y: root.GetProperty("y").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        }).ToDictionary(r => r.Record, r => r.Y);
}
