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
    public void A_certificate_that_cannot_be_loaded_stops_the_start_naming_the_setting()
    {
        var (_, certificateFile, _) = _pki.Server();

        var e = Assert.Throws<LstmStream.Hosting.Options.ServiceStartException>(() =>
            new ServerCertificate(new TcpTlsSettings { CertificateFile = certificateFile, KeyFile = _pki.AuthorityFile }, new ListLogger()));

        Assert.StartsWith($"LstmStream:Tcp:Tls:CertificateFile: cannot load '{certificateFile}'", e.Message);
    }
}
