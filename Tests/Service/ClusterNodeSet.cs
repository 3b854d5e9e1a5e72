namespace LstmStream.Tests.Service;

/// <summary>
/// The <c>serve</c> processes one cluster test started, stopped together when the test ends. With
/// <c>LSTMSTREAM_TEST_LOGS=folder</c> every node's log is kept there (to see what happened in a failed run).
/// </summary>
internal sealed class ClusterNodeSet(string testName) : IDisposable
{
    private readonly List<ClusterNode> _nodes = [];

    /// <summary>Starts a node on <paramref name="clusterPort"/> with <paramref name="settings"/> and keeps it.</summary>
    public ClusterNode Start(int clusterPort, params string[] settings)
    {
        var node = ClusterNode.Start(clusterPort, settings);
        Add(node);
        return node;
    }

    /// <summary>Keeps a node started elsewhere (e.g. the single-node reference run).</summary>
    public void Add(ClusterNode node)
    {
        lock (_nodes) _nodes.Add(node);
    }

    public void Dispose()
    {
        ClusterNode[] nodes;
        lock (_nodes) nodes = [.. _nodes];
        foreach (var node in nodes) node.Dispose();
        if (Environment.GetEnvironmentVariable("LSTMSTREAM_TEST_LOGS") is not { Length: > 0 } folder) return;
        Directory.CreateDirectory(folder);
        for (var i = 0; i < nodes.Length; i++) File.WriteAllText(Path.Combine(folder, $"{testName}-{Guid.NewGuid():N}-node{i}.log"), nodes[i].Log);
    }
}
