namespace LstmStream.Hosting.Options;

/// <summary>
/// One entry of <c>LstmStream:Tcp:Clients</c>: a client identity and the keys it may write. The identity is proven
/// by a client certificate whose subject common name is <see cref="Name"/> (mutual TLS), or, without mutual TLS, by
/// the connection's first line <c>{"auth":"TOKEN"}</c> carrying this client's token. A record for a key that starts
/// with none of <see cref="KeyPrefixes"/> is answered with an error record and touches no state.
/// </summary>
public sealed class TcpClientSettings
{
    /// <summary>The client's name: its certificate's subject CN under mutual TLS; used in logs and error records.</summary>
    public string Name { get; set; } = "";

    /// <summary>The client's token (from the environment, e.g. <c>LstmStream__Tcp__Clients__0__Token</c>); token authentication only.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding the client's token (instead of <see cref="Token"/>).</summary>
    public string? TokenFile { get; set; }

    /// <summary>The key prefixes this client may write (an empty string allows every key).</summary>
    public List<string> KeyPrefixes { get; set; } = [];

    /// <summary>The shortest accepted client token.</summary>
    public const int MinTokenLength = 16;
}
