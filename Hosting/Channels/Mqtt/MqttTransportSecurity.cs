using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using LstmStream.Hosting.Channels.Tls;
using LstmStream.Hosting.Options;
using MQTTnet;

namespace LstmStream.Hosting.Channels.Mqtt;

/// <summary>
/// TLS and credentials of an MQTT connection from <see cref="MqttClientSettings"/>: TLS 1.2/1.3 with the broker's
/// certificate checked against the configured CA (its host name too), a client certificate when configured, and the
/// user name and password (read from the environment or a file, never logged).
/// </summary>
public static class MqttTransportSecurity
{
    /// <summary>Adds the TLS options and credentials the settings ask for to <paramref name="builder"/>.</summary>
    public static MqttClientOptionsBuilder Apply(MqttClientOptionsBuilder builder, MqttClientSettings settings)
    {
        if (!string.IsNullOrWhiteSpace(settings.Username))
            builder = builder.WithCredentials(settings.Username, settings.ReadPassword(out _));
        if (!settings.UseTls) return builder;

        var authorities = new X509Certificate2Collection();
        if (!string.IsNullOrWhiteSpace(settings.CaFile)) authorities.ImportFromPemFile(settings.CaFile);
        var clientCertificates = new X509Certificate2Collection();
        if (!string.IsNullOrWhiteSpace(settings.ClientCertificateFile))
            clientCertificates.Add(CertificateFiles.LoadPem(settings.ClientCertificateFile, settings.ClientKeyFile!));

        return builder.WithTlsOptions(tls =>
        {
            tls.UseTls()
                .WithTargetHost(settings.Host)
                .WithSslProtocols(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13);
            if (clientCertificates.Count > 0) tls.WithClientCertificates(clientCertificates);
            if (authorities.Count > 0) tls.WithCertificateValidationHandler(e => ChainsTo(authorities, e.Certificate, e.SslPolicyErrors));
        });
    }

    /// <summary>The broker's certificate names the host and chains to one of <paramref name="authorities"/>.</summary>
    private static bool ChainsTo(X509Certificate2Collection authorities, X509Certificate? certificate, SslPolicyErrors errors) =>
        certificate is not null &&
        (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) == 0 &&
        CertificateFiles.ChainsTo(authorities, certificate, purpose: null);
}
