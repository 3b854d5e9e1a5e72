using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LstmStream.Hosting.Options;
using Microsoft.Extensions.Logging;

namespace LstmStream.Hosting.Channels.Tls;

/// <summary>
/// The TCP listener's certificate, loaded from PEM (certificate + key) or PKCS#12 files and loaded again when a
/// file's modification time or size changes (checked at most once a second, when a connection is accepted): a renewed
/// certificate is served to the next connection without a restart. A renewed file that cannot be loaded is logged
/// and the previous certificate stays in use.
/// </summary>
public sealed class ServerCertificate : IDisposable
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);
    private readonly TcpTlsSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private X509Certificate2 _current;
    private string _stamp;
    private long _checkedAt;

    /// <exception cref="ServiceStartException">The files cannot be read or do not hold a certificate with its key.</exception>
    public ServerCertificate(TcpTlsSettings settings, ILogger logger, TimeProvider? time = null)
    {
        _settings = settings;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _stamp = Stamp();
        try
        {
            _current = Load(settings);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ServiceStartException($"{ServiceOptions.SectionName}:Tcp:Tls:CertificateFile: cannot load '{settings.CertificateFile}': {e.Message}", e);
        }

        _checkedAt = _time.GetTimestamp();
    }

    /// <summary>The certificate to present now (reloaded first when its files changed).</summary>
    public X509Certificate2 Current
    {
        get
        {
            lock (_gate)
            {
                if (_time.GetElapsedTime(_checkedAt) >= CheckEvery) ReloadIfChanged();
                return _current;
            }
        }
    }

    private void ReloadIfChanged()
    {
        _checkedAt = _time.GetTimestamp();
        var stamp = Stamp();
        if (stamp == _stamp) return;
        try
        {
            var renewed = Load(_settings);
            _current.Dispose();
            _current = renewed;
            _stamp = stamp;
            _logger.LogInformation("TCP TLS: certificate reloaded from {File}: {Subject}, valid until {NotAfter:u}",
                _settings.CertificateFile, renewed.Subject, renewed.NotAfter.ToUniversalTime());
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            _logger.LogWarning("TCP TLS: the changed certificate files cannot be loaded ({Reason}); still serving {Subject}", e.Message, _current.Subject);
        }
    }

    private string Stamp()
    {
        static string Of(string? path) => string.IsNullOrWhiteSpace(path) || !File.Exists(path)
            ? "-"
            : $"{File.GetLastWriteTimeUtc(path).Ticks}:{new FileInfo(path).Length}";
        return $"{Of(_settings.CertificateFile)}|{Of(_settings.KeyFile)}|{Of(_settings.PfxPasswordFile)}";
    }

    /// <summary>Loads the certificate the settings name (PEM with key, or PKCS#12).</summary>
    internal static X509Certificate2 Load(TcpTlsSettings settings)
    {
        var file = settings.CertificateFile!;
        var extension = Path.GetExtension(file).ToLowerInvariant();
        if (extension is ".pfx" or ".p12")
        {
            var password = settings.PfxPasswordFile is { } p ? File.ReadAllText(p).TrimEnd('\n', '\r') : null;
            return X509CertificateLoader.LoadPkcs12FromFile(file, password);
        }

        if (string.IsNullOrWhiteSpace(settings.KeyFile))
            throw new ArgumentException("a PEM certificate needs Tcp:Tls:KeyFile (its private key)");
        return CertificateFiles.LoadPem(file, settings.KeyFile);
    }

    public void Dispose() => _current.Dispose();
}
