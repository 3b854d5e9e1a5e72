using LstmStream.Hosting.Channels.Tls;
using LstmStream.Hosting.Options;
using LstmStream.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LstmStream.Tests.Channels.Tls;

public sealed class ServerCertificateTests : IDisposable
{
    private readonly TestCertificates _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public void A_renewed_certificate_is_served_after_its_files_change_and_a_broken_one_is_not()
    {
        var (first, certificateFile, keyFile) = _pki.Server("first");
        var time = new FakeTimeProvider();
        var logger = new ListLogger();
        using var served = new ServerCertificate(new TcpTlsSettings { CertificateFile = certificateFile, KeyFile = keyFile }, logger, time);
        Assert.Equal(first.Thumbprint, served.Current.Thumbprint);

        var (second, secondCertificate, secondKey) = _pki.Server("second");
        File.Copy(secondCertificate, certificateFile, overwrite: true);
        File.Copy(secondKey, keyFile, overwrite: true);
        File.SetLastWriteTimeUtc(certificateFile, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(first.Thumbprint, served.Current.Thumbprint); // checked at most once a second
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(second.Thumbprint, served.Current.Thumbprint);
        Assert.Contains(logger.Lines, l => l.Message.Contains("certificate reloaded", StringComparison.Ordinal));

        File.WriteAllText(certificateFile, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
        File.SetLastWriteTimeUtc(certificateFile, DateTime.UtcNow.AddMinutes(2));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(second.Thumbprint, served.Current.Thumbprint);
        Assert.Contains(logger.Lines, l => l.Message.Contains("cannot be loaded", StringComparison.Ordinal));
    }

    [Fact]
    public void A_password_protected_pfx_file_is_served_and_a_wrong_password_stops_the_start()
    {
        var (certificate, certificateFile, _) = _pki.Server("pfx");
        var pfx = Path.ChangeExtension(certificateFile, ".pfx");
        var passwordFile = Path.ChangeExtension(certificateFile, ".password");
        File.WriteAllBytes(pfx, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, "pfx-password-0123"));
        File.WriteAllText(passwordFile, "pfx-password-0123\n");
        var settings = new TcpTlsSettings { CertificateFile = pfx, PfxPasswordFile = passwordFile };

        using (var served = new ServerCertificate(settings, new ListLogger()))
        {
            Assert.Equal(certificate.Thumbprint, served.Current.Thumbprint);
            Assert.True(served.Current.HasPrivateKey);
        }

        File.WriteAllText(passwordFile, "not-the-password\n");
        var e = Assert.Throws<LstmStream.Hosting.Options.ServiceStartException>(() => new ServerCertificate(settings, new ListLogger()));
        Assert.StartsWith($"LstmStream:Tcp:Tls:CertificateFile: cannot load '{pfx}'", e.Message);
        Assert.DoesNotContain("not-the-password", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_that_cannot_be_loaded_stops_the_start_naming_the_setting()
    {
        var (_, certificateFile, _) = _pki.Server();

        var e = Assert.Throws<LstmStream.Hosting.Options.ServiceStartException>(() =>
            new ServerCertificate(new TcpTlsSettings { CertificateFile = certificateFile, KeyFile = _pki.AuthorityFile }, new ListLogger()));

        Assert.StartsWith($"LstmStream:Tcp:Tls:CertificateFile: cannot load '{certificateFile}'", e.Message);
    }
}
