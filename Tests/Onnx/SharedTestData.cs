namespace LstmStream.Tests.Onnx;

/// <summary>Locates the shared reference data that lives next to the repository (<c>../shared</c>).</summary>
internal static class SharedTestData
{
    public static string GoldenDirectory => Find("golden", "LSTMSTREAM_GOLDEN_DIR");

    public static string OnnxNodeTestsDirectory => Find(Path.Combine("peer-tests", "onnx-node-lstm"), "LSTMSTREAM_ONNX_NODE_TESTS_DIR");

    private static string Find(string relative, string environmentVariable)
    {
        if (Environment.GetEnvironmentVariable(environmentVariable) is { Length: > 0 } fromEnvironment) return fromEnvironment;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstmStream.sln")))
            {
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", relative));
                if (Directory.Exists(candidate)) return candidate;
                throw new DirectoryNotFoundException($"shared test data not found at {candidate} (set {environmentVariable} to its location)");
            }
        }

        throw new DirectoryNotFoundException($"repository root (LstmStream.sln) not found above {AppContext.BaseDirectory}; set {environmentVariable}");
    }
}
