using System.Net.Sockets;
using System.Text;

namespace LstmStream.Tests.Service;

/// <summary>
/// A client that keeps records flowing into one cluster node on one connection: round after round, the next <c>seq</c> of
/// each of its keys, a pause between rounds, until the last round is sent, <see cref="Stop"/> is called or the node closes
/// the connection (it leaves). Reads every output meanwhile. Records are a function of key and seq
/// (<see cref="ClusterLoad.Record"/>), so a record the node did not take can be sent again through another node.
/// </summary>
internal sealed class ClusterLoadFeeder
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<int, int> _next;

    /// <param name="next">Each key's first seq to send.</param>
    /// <param name="lastSeq">The last seq to send; null: until <see cref="Stop"/>.</param>
    private ClusterLoadFeeder(ClusterNode node, Dictionary<int, int> next, int? lastSeq, TimeSpan pause, TimeSpan timeout)
    {
        _next = new Dictionary<int, int>(next);
        Completion = RunAsync(node, lastSeq, pause, timeout);
    }

    /// <summary>The output lines, once the node has closed the connection.</summary>
    public Task<List<string>> Completion { get; }

    /// <summary>Rounds sent so far.</summary>
    public int Rounds { get; private set; }

    /// <summary>The last seq sent of <paramref name="key"/> (after <see cref="Completion"/>).</summary>
    public int LastSent(int key) => _next[key] - 1;

    /// <summary>The keys this feeder sends.</summary>
    public IReadOnlyCollection<int> Keys => _next.Keys;

    public static ClusterLoadFeeder Start(ClusterNode node, Dictionary<int, int> next, int? lastSeq, TimeSpan pause, TimeSpan timeout) =>
        new(node, next, lastSeq, pause, timeout);

    /// <summary>Sends no further round; the connection is half-closed and the outputs still due are read.</summary>
    public void Stop() => _stop.Cancel();

    private async Task<List<string>> RunAsync(ClusterNode node, int? lastSeq, TimeSpan pause, TimeSpan timeout)
    {
        await Task.Yield();
        using var client = new TcpClient();
        await client.ConnectAsync(node.TcpEndpoint);
        var stream = client.GetStream();
        var reading = NdjsonClient.ReadAllLinesAsync(stream, timeout);
        try
        {
            while (!_stop.IsCancellationRequested && !reading.IsCompleted)
            {
                var text = new StringBuilder();
                var any = false;
                foreach (var key in _next.Keys.Order().ToList())
                {
                    if (lastSeq is { } last && _next[key] > last) continue;
                    text.Append(ClusterLoad.Record(key, _next[key])).Append('\n');
                    _next[key]++;
                    any = true;
                }

                if (!any) break;
                await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
                Rounds++;
                try
                {
                    await Task.Delay(pause, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }

            client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The node closed the connection (it is leaving): what it took is answered, the rest goes elsewhere.
        }

        return await reading;
    }
}
