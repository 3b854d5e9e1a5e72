using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace LstmStream.Hosting.Channels.Tls;

/// <summary>
/// Mutual TLS: a client certificate is accepted only when it chains to one of the configured CA certificates
/// (the system's trust store plays no part) and is valid now; its subject common name is the client's identity.
/// </summary>
public sealed class ClientCertificateCheck
{
    private readonly X509Certificate2Collection _authorities;

    public ClientCertificateCheck(string caFile)
    {
        _authorities = new X509Certificate2Collection();
        _authorities.ImportFromPemFile(caFile);
        if (_authorities.Count == 0) throw new ArgumentException($"'{caFile}' holds no PEM certificate");
    }

    /// <summary>For <see cref="SslServerAuthenticationOptions.RemoteCertificateValidationCallback"/>.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null &&
        CertificateFiles.ChainsTo(_authorities, certificate, CertificateFiles.ClientAuthentication, chain?.ChainPolicy.ExtraStore);

    /// <summary>The identity a client certificate proves: its subject common name.</summary>
    public static string IdentityOf(X509Certificate certificate)
    {
        if (certificate is X509Certificate2 cert) return cert.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        using var loaded = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return loaded.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
    }
}
