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
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        var presented = certificate as X509Certificate2;
        bool loaded = presented is null;
        presented ??= X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        try
        {
            return Chains(presented, chain);
        }
        finally
        {
            if (loaded) presented.Dispose();
        }
    }

    private bool Chains(X509Certificate2 presented, X509Chain? chain)
    {
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        if (chain is not null) custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        return custom.Build(presented);
    }

    /// <summary>The identity a client certificate proves: its subject common name.</summary>
    public static string IdentityOf(X509Certificate certificate)
    {
        if (certificate is X509Certificate2 cert) return cert.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        using var loaded = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return loaded.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
    }
}
