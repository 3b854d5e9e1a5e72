using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LstmStream.Tests.Channels.Tls;

/// <summary>
/// A private CA and the certificates a test needs, made with .NET's <see cref="CertificateRequest"/> and written
/// as PEM files into a temporary folder (deleted on dispose).
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lstmstream-tls-").FullName;

    public TestCertificates(string caName = "LstmStream Test CA")
    {
        // Readable by other users (a broker that drops root privileges reads the server files from here).
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_folder, (UnixFileMode)0b111_101_101);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={caName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        AuthorityFile = Path.Combine(_folder, "ca.pem");
        File.WriteAllText(AuthorityFile, Authority.ExportCertificatePem());
    }

    /// <summary>The CA certificate (with its key).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The CA certificate as a PEM file.</summary>
    public string AuthorityFile { get; }

    /// <summary>A certificate for <c>127.0.0.1</c> / <c>localhost</c> issued by the CA, with its PEM files.</summary>
    public (X509Certificate2 Certificate, string CertificateFile, string KeyFile) Server(string name = "localhost") =>
        Issue(name, server: true);

    /// <summary>A client certificate (client authentication) with common name <paramref name="name"/>.</summary>
    public X509Certificate2 Client(string name) => Issue(name, server: false).Certificate;

    /// <summary>A client certificate with common name <paramref name="name"/>, with its PEM files.</summary>
    public (X509Certificate2 Certificate, string CertificateFile, string KeyFile) ClientFiles(string name) => Issue(name, server: false);

    private (X509Certificate2 Certificate, string CertificateFile, string KeyFile) Issue(string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(Authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
        var withKey = issued.CopyWithPrivateKey(key);
        var certificateFile = Path.Combine(_folder, $"{name}-{Convert.ToHexString(serial)}.pem");
        var keyFile = Path.ChangeExtension(certificateFile, ".key");
        File.WriteAllText(certificateFile, withKey.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyFile, (UnixFileMode)0b110_100_100);
        // A PKCS#12 round trip gives a certificate whose key SslStream can use as a client certificate on Linux.
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        withKey.Dispose();
        return (usable, certificateFile, keyFile);
    }

    public void Dispose()
    {
        Authority.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
