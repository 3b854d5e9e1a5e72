namespace LstmStream.Tests.Support;

/// <summary>
/// Finds the verification data that lives beside the repository (<c>../shared</c>: golden cases and the
/// ONNX project's node tests). <c>LSTMSTREAM_SHARED</c> overrides the location.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> Root = new(Locate);

    public static string Directory => Root.Value;

    public static string Golden => Path.Combine(Directory, "golden");

    public static string OnnxNodeTests => Path.Combine(Directory, "peer-tests", "onnx-node-lstm");

    /// <summary>The repository root (the folder holding LstmStream.sln).</summary>
    public static string RepositoryRoot { get; } = LocateRepositoryRoot();

    private static string Locate()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("LSTMSTREAM_SHARED");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            if (!System.IO.Directory.Exists(fromEnvironment))
                throw new DirectoryNotFoundException($"LSTMSTREAM_SHARED={fromEnvironment} does not exist");
            return fromEnvironment;
        }

        var candidate = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared"));
        if (!System.IO.Directory.Exists(Path.Combine(candidate, "golden")))
            throw new DirectoryNotFoundException(
                $"verification data not found at {candidate} (expected shared/golden beside the repository); set LSTMSTREAM_SHARED to its folder");
        return candidate;
    }

    private static string LocateRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstmStream.sln"))) return dir.FullName;
        }

        throw new DirectoryNotFoundException($"no LstmStream.sln above {AppContext.BaseDirectory}");
    }
}
