using LstmStream.Pipeline.Models;
using LstmStream.Pipeline.Numerics;
using LstmStream.Pipeline.Numerics.Native;
using LstmStream.Pipeline.Numerics.Selection;
using LstmStream.Tests.Numerics.Native;

namespace LstmStream.Tests.Numerics.Selection;

/// <summary>Backend creation by configuration name, and the errors for names and libraries that do not work.</summary>
public sealed class MatMulBackendRegistryTests
{
    public static TheoryData<string> NativeNames => new() { MatMulBackendRegistry.OpenBlas, MatMulBackendRegistry.OneDnn, MatMulBackendRegistry.Mkl };

    [RequiredNativeBackendsFact]
    public void Every_required_native_backend_is_present()
    {
        var missing = NativeBackendRequirement.Required
            .Select(MatMulBackendRegistry.Probe)
            .Where(p => !p.IsAvailable)
            .ToArray();
        Assert.True(missing.Length == 0,
            $"{NativeBackendRequirement.Variable} requires {string.Join(", ", NativeBackendRequirement.Required)}, but: {string.Join("; ", missing.Select(p => p.ToString()))}");
    }

    [Theory]
    [MemberData(nameof(NativeNames))]
    public void A_named_backend_is_created_or_its_error_names_the_library_and_package(string name)
    {
        var probe = MatMulBackendRegistry.Probe(name);
        var spec = name switch
        {
            MatMulBackendRegistry.OpenBlas => NativeLibrarySpec.OpenBlas,
            MatMulBackendRegistry.OneDnn => NativeLibrarySpec.OneDnn,
            _ => NativeLibrarySpec.Mkl,
        };
        if (probe.IsAvailable)
        {
            var backend = MatMulBackendRegistry.Create(name.ToUpperInvariant(), threads: 2);
            Assert.Equal(name, backend.Name);
            Assert.Contains(spec.FileNames, file => backend.ToString()!.Contains(file));
            return;
        }

        var error = Assert.Throws<MatMulBackendUnavailableException>(() => MatMulBackendRegistry.Create(name, threads: 1));
        Assert.Equal(name, error.Backend);
        Assert.StartsWith($"math backend '{name}' is not available", error.Message);
        foreach (var file in spec.FileNames) Assert.Contains(file, error.Message);
        Assert.Contains(spec.Package, error.Message);

        // The same stop for a whole model.
        Assert.Throws<MatMulBackendUnavailableException>(() => MatMulBackendRegistry.CreateForModel(name, 1, SmallModel(withHead: false)));
    }

    [Fact]
    public void A_library_that_does_not_exist_is_reported_with_every_file_tried_and_the_package()
    {
        var spec = new NativeLibrarySpec("Test library", ["liblstmstream-missing.so.7", "liblstmstream-missing.so"], "Debian package lstmstream-missing");
        Assert.False(NativeLibraryBinding.TryLoad(spec, ["some_function"], out var binding, out var reason));
        Assert.Null(binding);
        Assert.Contains("Test library could not be loaded", reason);
        Assert.Contains("liblstmstream-missing.so.7: cannot open shared object file", reason);
        Assert.Contains("liblstmstream-missing.so: cannot open shared object file", reason);
        Assert.Contains("Debian package lstmstream-missing", reason);
    }

    [Fact]
    public void A_library_without_a_required_export_is_reported()
    {
        // libc is always there; it does not export a GEMM.
        var spec = new NativeLibrarySpec("C library", ["libc.so.6"], "Debian package libc6");
        Assert.False(NativeLibraryBinding.TryLoad(spec, ["cblas_sgemm"], out _, out var reason));
        Assert.Contains("libc.so.6 loaded but does not export cblas_sgemm", reason);
        Assert.True(NativeLibraryBinding.TryLoad(spec, ["malloc"], out var binding, out _));
        Assert.Equal("libc.so.6", binding!.FileName);
        Assert.NotEqual(IntPtr.Zero, binding.RequiredExport("malloc"));
        Assert.Equal(IntPtr.Zero, binding.OptionalExport("cblas_sgemm"));
    }

    [Fact]
    public async Task A_library_that_loads_but_needs_a_symbol_nothing_provides_is_refused_before_any_call()
    {
        // Loaded lazily this library would pass and its first cblas_sgemm would end the test process.
        using var broken = await Support.BrokenNativeLibrary.BuildAsync("libbroken-cblas.so");
        var spec = new NativeLibrarySpec("Broken CBLAS", broken.Files, "Debian package broken-cblas");
        Assert.False(NativeLibraryBinding.TryLoad(spec, ["cblas_sgemm"], out var binding, out var reason));
        Assert.Null(binding);
        Assert.Contains($"{broken.Files[0]} loads but cannot be bound", reason);
        Assert.Contains($"undefined symbol: {Support.BrokenNativeLibrary.MissingSymbol}", reason);
        Assert.Contains("Debian package broken-cblas", reason);
    }

    [Fact]
    public void A_file_that_is_not_a_library_is_reported_with_the_loader_message()
    {
        var file = Path.Combine(Path.GetTempPath(), $"lstmstream-not-a-library-{Guid.NewGuid():N}.so");
        File.WriteAllText(file, new string('x', 4096));
        try
        {
            Assert.False(NativeLibraryBinding.TryLoad(new NativeLibrarySpec("Text file", [file], "nothing"), ["cblas_sgemm"], out _, out var reason));
            Assert.Contains(file, reason);
            Assert.Contains("invalid ELF header", reason);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Unknown_names_and_auto_without_shapes_are_refused_clearly()
    {
        var unknown = Assert.Throws<ArgumentException>(() => MatMulBackendRegistry.Create("cublas"));
        Assert.Contains("unknown math backend 'cublas'", unknown.Message);
        Assert.Contains("auto, managed, mkl, openblas, onednn", unknown.Message);
        var auto = Assert.Throws<ArgumentException>(() => MatMulBackendRegistry.Create("auto"));
        Assert.Contains("tuned per matrix shape", auto.Message);
        Assert.Equal("onednn", MatMulBackendRegistry.Normalize(" OneDNN "));
        Assert.True(MatMulBackendRegistry.Probe("managed").IsAvailable);
        Assert.Equal(MatMulBackendRegistry.ConcreteNames, MatMulBackendRegistry.ProbeAll().Select(p => p.Name));
        Assert.Equal(MatMulBackendRegistry.Managed, MatMulBackendRegistry.CreateAvailable()[0].Name);
    }

    [Fact]
    public void A_named_backend_gives_one_shared_instance_and_a_log_line_per_matrix()
    {
        // One instance, so the model has one pool of worker threads (idle pools would spin beside the busy one).
        var model = SmallModel(withHead: true);
        var chosen = MatMulBackendRegistry.CreateForModel("managed", 2, model);
        Assert.Equal(2, chosen.Layers.Count);
        Assert.NotNull(chosen.Head);
        Assert.Same(chosen.Layers[0], chosen.Layers[1]);
        Assert.Same(chosen.Layers[0], chosen.Head);
        Assert.Equal(
            ["layer 0 [11x20]: managed, 2 threads", "layer 1 [8x12]: managed, 2 threads", "head [3x2]: managed, 2 threads"],
            chosen.Choices);
    }

    [Fact]
    public void Auto_tunes_every_layer_and_the_head_and_every_backend_runs_the_model_like_managed()
    {
        var model = SmallModel(withHead: true);
        var options = new MatMulAutotuneOptions { ModelBudget = TimeSpan.FromMilliseconds(150) };
        var chosen = MatMulBackendRegistry.CreateForModel("auto", 1, model, options);
        Assert.Equal(3, chosen.Choices.Count);
        Assert.StartsWith("layer 0 [11x20]: ", chosen.Choices[0]);
        Assert.StartsWith("layer 1 [8x12]: ", chosen.Choices[1]);
        Assert.StartsWith("head [3x2]: ", chosen.Choices[2]);
        Assert.All(chosen.Layers.Append(chosen.Head!), b => Assert.IsType<TunedMatMul>(b));
        // The plans share one instance per backend name.
        var used = chosen.Layers.Append(chosen.Head!).Cast<TunedMatMul>().SelectMany(t => t.Plan.Backends).Distinct(ReferenceEqualityComparer.Instance).Cast<IMatMulBackend>().ToList();
        Assert.Equal(used.Count, used.Select(b => b.Name).Distinct().Count());

        // A whole model run through the tuned backend and through every available backend agrees with managed.
        var random = new Random(3);
        const int batch = 9, time = 4;
        var inputs = ReferenceGemm.Random(random, batch * time * model.InputSize);
        var expected = new StackedLstm(model, new ManagedMatMul()).Run(inputs, batch, time).Outputs;
        var backends = MatMulBackendRegistry.CreateAvailable(2).Append(chosen.Layers[0]);
        foreach (var backend in backends)
        {
            var actual = new StackedLstm(model, backend).Run(inputs, batch, time).Outputs;
            Assert.Equal(expected.Length, actual.Length);
            for (var i = 0; i < expected.Length; i++)
            {
                if (!(Math.Abs(expected[i] - actual[i]) <= 1e-5f))
                    Assert.Fail($"{backend}: output {i} is {actual[i]:R}, managed gives {expected[i]:R}");
            }
        }
    }

    /// <summary>6 inputs → 5 cells → 3 cells, optional dense head of 2 outputs.</summary>
    internal static LstmModel SmallModel(bool withHead)
    {
        var random = new Random(7);
        var layer0 = new LstmLayer(6, 5, ReferenceGemm.Random(random, 11 * 20), ReferenceGemm.Random(random, 20));
        var layer1 = new LstmLayer(5, 3, ReferenceGemm.Random(random, 8 * 12), ReferenceGemm.Random(random, 12));
        var head = withHead ? new DenseHead(3, 2, ReferenceGemm.Random(random, 6), ReferenceGemm.Random(random, 2), HeadActivation.Sigmoid) : null;
        return new LstmModel([layer0, layer1], head);
    }
}
