using System.Security.Cryptography;
using System.Text;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Records;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Hosting.Channels;

/// <summary>
/// The clients of <c>LstmStream:Tcp:Clients</c>: who a connection is (by certificate name or token) and which keys
/// it may write. A record for another key is taken out of its batch and answered with an error record (field
/// <c>key</c>) before it reaches the pipeline, so it touches no state.
/// </summary>
public sealed class TcpClientDirectory
{
    private readonly Dictionary<string, TcpClientSettings> _byName;
    private readonly List<(byte[] Token, TcpClientSettings Client)> _tokens = [];

    public TcpClientDirectory(IEnumerable<TcpClientSettings> clients)
    {
        _byName = new Dictionary<string, TcpClientSettings>(StringComparer.Ordinal);
        foreach (var client in clients)
        {
            _byName[client.Name] = client;
            var token = SecretSetting.Read(client.Token, client.TokenFile, "Tcp:Clients:Token", TcpClientSettings.MinTokenLength, out _);
            if (token is not null) _tokens.Add((Encoding.UTF8.GetBytes(token), client));
        }
    }

    /// <summary>Whether any client is configured (then every connection must identify itself).</summary>
    public bool RequiresIdentity => _byName.Count > 0;

    /// <summary>The client a certificate name names, or null.</summary>
    public TcpClientSettings? ByName(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The client whose token this is (compared in constant time against every token), or null.</summary>
    public TcpClientSettings? ByToken(ReadOnlySpan<byte> token)
    {
        TcpClientSettings? found = null;
        foreach (var (known, client) in _tokens)
            if (CryptographicOperations.FixedTimeEquals(known, token)) found = client;
        return found;
    }

    /// <summary>
    /// Takes the rows of keys <paramref name="client"/> may not write out of every batch of <paramref name="batches"/>
    /// (compacting each in place) and reports each with <paramref name="reject"/>.
    /// </summary>
    public static void Authorize(TcpClientSettings client, List<StepBatch> batches, Action<RecordError> reject)
    {
        foreach (var batch in batches)
        {
            int kept = 0;
            for (var r = 0; r < batch.Count; r++)
            {
                var key = batch.Keys[r];
                if (MayWrite(client, key))
                {
                    if (kept != r) MoveRow(batch, r, kept);
                    kept++;
                }
                else
                {
                    reject(new RecordError(batch.Tags[r], key, RecordFields.Key,
                        $"client '{client.Name}' may not write this key (allowed prefixes: {string.Join(", ", client.KeyPrefixes.Select(p => $"'{p}'"))})"));
                }
            }

            while (batch.Count > kept) batch.RemoveLast();
        }

        batches.RemoveAll(b => b.Count == 0 && Released(b));
    }

    private static bool Released(StepBatch batch)
    {
        batch.Release();
        return true;
    }

    /// <summary>Whether <paramref name="key"/> starts with one of the client's prefixes.</summary>
    public static bool MayWrite(TcpClientSettings client, string key)
    {
        foreach (var prefix in client.KeyPrefixes)
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                return true;
        return false;
    }

    private static void MoveRow(StepBatch batch, int from, int to)
    {
        batch.Keys[to] = batch.Keys[from];
        batch.Seq[to] = batch.Seq[from];
        batch.Flags[to] = batch.Flags[from];
        batch.Tags[to] = batch.Tags[from];
        batch.Row(from).CopyTo(batch.Row(to));
    }
}
