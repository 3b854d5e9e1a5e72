namespace LstmStream.Hosting.Options;

/// <summary><c>LstmStream:Http</c>: Prometheus metrics (<c>/metrics</c>), <c>/health</c> and the admin path (<c>/admin/…</c>).</summary>
public sealed class HttpSettings
{
    public bool Enabled { get; set; } = true;

    /// <summary>HOST:PORT; a loopback address only, because the admin path can drop and reset keys.</summary>
    public string Endpoint { get; set; } = "127.0.0.1:9464";

    /// <summary>
    /// When set, every <c>/admin/…</c> request must send <c>Authorization: Bearer TOKEN</c> (else 401), so that not
    /// every local process can drop or reset keys. Give it through the environment
    /// (<c>LstmStream__Http__AdminToken</c>) or use <see cref="AdminTokenFile"/>; at least 16 characters.
    /// <c>/metrics</c> and <c>/health</c> stay open (loopback only).
    /// </summary>
    public string? AdminToken { get; set; }

    /// <summary>A file holding the admin token (instead of <see cref="AdminToken"/>).</summary>
    public string? AdminTokenFile { get; set; }

    /// <summary>The shortest accepted admin token.</summary>
    public const int MinTokenLength = 16;

    /// <summary>The admin token from <see cref="AdminToken"/> or <see cref="AdminTokenFile"/>, or null when none is configured.</summary>
    public string? ReadAdminToken(out string? problem) =>
        SecretSetting.Read(AdminToken, AdminTokenFile, "Http:AdminToken", MinTokenLength, out problem);
}
