using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Xml.Linq;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Flows;
using LstmStream.Pipeline.Models;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Examples;

/// <summary>
/// The package as a user gets it: packs LstmStream.Pipeline (with a version of its own, so no package cache can
/// answer instead) into a temporary folder feed, checks the package's contents, restores examples/Embedding from
/// that feed (the registry for everything else) into a temporary package folder and runs it on the demo model.
/// </summary>
public sealed class EmbeddingExampleTests : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(8);
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("lstmstream-package-");

    [Fact]
    public async Task The_packed_library_restores_from_a_folder_feed_and_runs_the_example_graph()
    {
        var root = SharedData.RepositoryRoot;
        var prefix = XDocument.Load(Path.Combine(root, "version.props")).Descendants("VersionPrefix").Single().Value;
        var version = $"{prefix}-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        var feed = Path.Combine(_temp.FullName, "feed");
        var configuration = typeof(EmbeddingExampleTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

        // The library as built for this test run (the test references the same build).
        await RunAsync(root, "pack", Path.Combine(root, "Pipeline", "LstmStream.Pipeline.csproj"), "-c", configuration, "--no-build",
            "-o", feed, $"-p:VersionSuffix={version[(prefix.Length + 1)..]}");
        AssertPackageContents(Path.Combine(feed, $"LstmStream.Pipeline.{version}.nupkg"), version);
        Assert.True(File.Exists(Path.Combine(feed, $"LstmStream.Pipeline.{version}.snupkg")), "no symbol package");

        var example = Path.Combine(_temp.FullName, "Embedding");
        CopyExample(Path.Combine(root, "examples", "Embedding"), example);
        var userPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                           ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        // Beside the project: NuGet merges it with the user's configuration (the registry). Packages restore into a
        // folder of this test; the user's package folder serves as a read-only fallback for the registry's packages.
        File.WriteAllText(Path.Combine(example, "nuget.config"), new XDocument(
            new XElement("configuration",
                new XElement("config", new XElement("add", new XAttribute("key", "globalPackagesFolder"), new XAttribute("value", Path.Combine(_temp.FullName, "packages")))),
                new XElement("packageSources", new XElement("add", new XAttribute("key", "lstmstream-local"), new XAttribute("value", feed))),
                new XElement("fallbackPackageFolders", new XElement("add", new XAttribute("key", "user"), new XAttribute("value", userPackages))))).ToString());

        var demo = Path.Combine(root, "models", "demo.onnx");
        var stdout = await RunAsync(example, "run", "-c", "Release", $"-p:LstmStreamPipelineVersion={version}", "--", demo);

        Assert.True(Directory.Exists(Path.Combine(_temp.FullName, "packages", "lstmstream.pipeline", version)),
            "the example did not restore the package from the folder feed");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var outputs = lines.Where(l => l.StartsWith("output ", StringComparison.Ordinal)).Select(l => l.Split(' ')).ToList();
        Assert.Equal(12, outputs.Count);
        foreach (var sensor in outputs.GroupBy(o => o[1])) Assert.Equal(["0", "1", "2", "3"], sensor.Select(o => o[2]));
        Assert.Contains("rejected step 13, key 'sensor-1', seq 99, field 'x': has 1 value, the model's input size is 4", lines);
        Assert.Equal("steps 13, outputs 12, rejected 1, live keys 3", lines[^1]);

        // The same readings through the library in this process give the same outputs (the backends may differ).
        var expected = await ExpectedOutputs(demo);
        foreach (var o in outputs)
        {
            var want = expected[(o[1], long.Parse(o[2], CultureInfo.InvariantCulture))];
            var got = o[3..].Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(want.Length, got.Length);
            for (var i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-5f, $"{o[1]} {o[2]}: {got[i]} vs {want[i]}");
        }
    }

    /// <summary>The example's readings (sensor-k, reading i → sin(0.3·i + j)) run here on the managed backend.</summary>
    private async Task<Dictionary<(string, long), float[]>> ExpectedOutputs(string modelPath)
    {
        using var engine = LstmEngine.Create(ModelLoader.Load(modelPath), new LstmEngineOptions { Backend = "managed" });
        var steps = Enumerable.Range(0, 12).Select(i => new LstmStep($"sensor-{i % 3}",
            Enumerable.Range(0, engine.Model.InputSize).Select(j => MathF.Sin(0.3f * i + j)).ToArray(), i / 3));
        var results = await Source.From(steps).Via(LstmFlow.Create(engine)).RunWith(Sink.Seq<LstmResult>(), Sys.Materializer());
        return results.Cast<LstmOutput>().ToDictionary(o => (o.Key, o.Seq!.Value), o => o.Y);
    }

    private static void AssertPackageContents(string package, string version)
    {
        Assert.True(File.Exists(package), $"dotnet pack did not write {package}");
        using var zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("README.md", entries);
        Assert.Contains("lib/net10.0/LstmStream.Pipeline.dll", entries);
        Assert.Contains("lib/net10.0/LstmStream.Pipeline.xml", entries);
        using var nuspecStream = zip.GetEntry("LstmStream.Pipeline.nuspec")!.Open();
        var nuspec = XDocument.Load(nuspecStream);
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("LstmStream.Pipeline", metadata.Element(ns + "id")!.Value);
        Assert.Equal(version, metadata.Element(ns + "version")!.Value);
        Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")!.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")!.Value));
        // SourceLink: the commit the package was built from.
        Assert.Matches("^[0-9a-f]{40}$", metadata.Element(ns + "repository")!.Attribute("commit")!.Value);
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.Contains("Akka.Streams", dependencies);
    }

    private static void CopyExample(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar)[0] is "bin" or "obj") continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Runs <c>dotnet</c> with <paramref name="args"/> in <paramref name="directory"/>; returns standard output, fails with both streams unless it exits 0.</summary>
    private static async Task<string> RunAsync(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBuildSDKsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} took longer than {CommandTimeout}");
        }

        var output = await stdout;
        Assert.True(process.ExitCode == 0,
            $"dotnet {string.Join(' ', args)} exited {process.ExitCode}\nstdout:\n{output}\nstderr:\n{await stderr}");
        return output;
    }

    void IDisposable.Dispose()
    {
        try
        {
            _temp.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        base.Dispose();
    }
}
