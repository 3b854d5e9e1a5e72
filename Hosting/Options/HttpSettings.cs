namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Http</c>: Prometheus metrics (<c>/metrics</c>), <c>/health</c> and the admin path (<c>/admin/…</c>).</summary>
public sealed class HttpSettings
{
    public bool Enabled { get; set; } = true;

    /// <summary>HOST:PORT; a loopback address only, because the admin path can drop keys and has no authentication.</summary>
    public string Endpoint { get; set; } = "127.0.0.1:9464";
}
