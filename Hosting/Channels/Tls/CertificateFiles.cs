using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LstmStream.Hosting.Channels.Tls;

/// <summary>
/// What the TCP listener and the MQTT client share about certificates: loading a PEM certificate with its key, and
/// checking a peer's certificate against configured CA certificates only (the system's trust store plays no part).
/// </summary>
public static class CertificateFiles
{
    /// <summary>TLS client authentication (extended key usage).</summary>
    public static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>
    /// A PEM certificate (chain) with its PEM private key. A certificate made from PEM keeps its key in memory only;
    /// a PKCS#12 round trip gives one whose key every TLS backend accepts.
    /// </summary>
    public static X509Certificate2 LoadPem(string certificateFile, string keyFile)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to one of <paramref name="authorities"/> and is valid now, for
    /// <paramref name="purpose"/> when one is given (revocation is not checked); <paramref name="intermediates"/> are
    /// the extra certificates the peer sent, if any.
    /// </summary>
    public static bool ChainsTo(X509Certificate2Collection authorities, X509Certificate certificate, Oid? purpose,
        X509Certificate2Collection? intermediates = null)
    {
        var presented = certificate as X509Certificate2;
        bool loaded = presented is null;
        presented ??= X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        try
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (purpose is not null) chain.ChainPolicy.ApplicationPolicy.Add(purpose);
            if (intermediates is not null) chain.ChainPolicy.ExtraStore.AddRange(intermediates);
            return chain.Build(presented);
        }
        finally
        {
            if (loaded) presented.Dispose();
        }
    }
}
