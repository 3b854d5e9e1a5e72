namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Tcp</c>: the NDJSON TCP listener.</summary>
public sealed class TcpSettings
{
    public bool Enabled { get; set; } = true;

    /// <summary>HOST:PORT to listen on (an IP address or <c>localhost</c>; port 0 picks a free port).</summary>
    public string Endpoint { get; set; } = "127.0.0.1:7878";

    /// <summary>
    /// Records of one connection accepted but not yet answered on the socket (outputs and error records
    /// waiting to be written count too). At the limit the connection's socket is no longer read.
    /// </summary>
    public int MaxInFlightRecords { get; set; } = 4096;

    /// <summary>
    /// The kernel send buffer of each connection in bytes (0: the OS default, which grows to megabytes). With the
    /// in-flight credit it bounds what a connection whose peer does not read keeps in memory.
    /// </summary>
    public int SendBufferBytes { get; set; }

    /// <summary>Bytes read from a socket at a time.</summary>
    public int ReadBufferBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// Most connections open at once; one more is answered with an error record and closed at once (counted in
    /// <c>lstmstream_tcp_connections_refused_total</c>), so idle or abandoned connections cannot pile up.
    /// </summary>
    public int MaxConnections { get; set; } = 1024;

    /// <summary>
    /// A connection that has sent nothing for this long while nothing of it is pending (no record in flight, no output
    /// written meanwhile) gets one error record and is closed (counted in <c>lstmstream_tcp_connections_idle_closed_total</c>);
    /// zero: never.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>TLS (and optionally mutual TLS) on the listener.</summary>
    public TcpTlsSettings Tls { get; set; } = new();

    /// <summary>
    /// A listener on a non-loopback address without TLS is refused at start (anyone who reaches the port could feed
    /// any key); true accepts it, with a warning in the log. Only for networks that are protected otherwise.
    /// </summary>
    public bool AllowPlaintext { get; set; }

    /// <summary>
    /// The clients allowed to connect and the keys each may write. Empty: any client may write any key (fine on
    /// loopback). Non-empty: every connection must identify itself (client certificate or first-line token).
    /// </summary>
    public List<TcpClientSettings> Clients { get; set; } = [];
}
