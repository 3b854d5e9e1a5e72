namespace LstmStream.Hosting.Options;

/// <summary>
/// <c>LstmStream:Tcp:Tls</c>: TLS on the TCP listener. The server certificate comes from a PEM certificate (chain)
/// file with its PEM key file, or from a PKCS#12 (.pfx/.p12) file; the files are read again when they change, so a
/// renewed certificate is used by the next connection without a restart. With <see cref="ClientCaFile"/> set,
/// every client must present a certificate issued by that CA (mutual TLS), and the certificate's subject common
/// name is the client's identity.
/// </summary>
public sealed class TcpTlsSettings
{
    /// <summary>The server certificate: a PEM file (with <see cref="KeyFile"/>) or a .pfx / .p12 file. Unset: no TLS.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The PEM private key of <see cref="CertificateFile"/> (PEM certificates only).</summary>
    public string? KeyFile { get; set; }

    /// <summary>A file holding the password of a .pfx / .p12 <see cref="CertificateFile"/>, if it has one.</summary>
    public string? PfxPasswordFile { get; set; }

    /// <summary>PEM file of the CA(s) that issue client certificates: set, it makes client certificates required (mutual TLS).</summary>
    public string? ClientCaFile { get; set; }

    /// <summary>Whether TLS is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertificateFile);
}
