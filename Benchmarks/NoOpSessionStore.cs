using LstmStream.Pipeline.Streaming;

namespace LstmStream.Benchmarks;

/// <summary>
/// A session store that holds nothing and answers at once: with it set, the stream does all of its durable-session
/// bookkeeping (a load per new key, <c>seq</c> and dirty marks per row), so <c>lstmstream-stream-store</c> against
/// <c>lstmstream-stream</c> is the price of that bookkeeping alone.
/// </summary>
internal sealed class NoOpSessionStore : ISessionStore
{
    private static readonly Task<IReadOnlyList<KeyState>> Nothing = Task.FromResult<IReadOnlyList<KeyState>>([]);

    public int BucketCount => 256;

    public Task<IReadOnlyList<KeyState>> LoadAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken) => Nothing;

    public void Accept(SessionChanges changes)
    {
    }
}
