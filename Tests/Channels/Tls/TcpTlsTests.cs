using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Channels.Tls;
using LstmStream.Tests.Service;

namespace LstmStream.Tests.Channels.Tls;

/// <summary>TLS, mutual TLS and per-client key prefixes on the TCP listener of a running service.</summary>
[Collection(ServiceHostCollection.Name)]
public sealed class TcpTlsTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TestCertificates _pki = new();
    private readonly (X509Certificate2 Certificate, string CertificateFile, string KeyFile) _server;

    public TcpTlsTests() => _server = _pki.Server();

    public void Dispose()
    {
        _server.Certificate.Dispose();
        _pki.Dispose();
    }

    private string[] TlsSettings(params string[] more) =>
    [
        $"--LstmStream:Tcp:Tls:CertificateFile={_server.CertificateFile}",
        $"--LstmStream:Tcp:Tls:KeyFile={_server.KeyFile}",
        .. more,
    ];

    [Fact]
    public async Task A_TLS_client_gets_its_outputs_and_a_plaintext_client_gets_nothing()
    {
        await using var service = await RunningService.StartAsync(TlsSettings());

        var replies = await ExchangeOverTlsAsync(service, null, [NdjsonClient.Record("secure-1", 0, 1, 2, 3, 4)]);
        Assert.Equal("secure-1", JsonDocument.Parse(Assert.Single(replies)).RootElement.GetProperty("key").GetString());

        using var plain = await service.ConnectAsync();
        var answer = await NdjsonClient.ExchangeAsync(plain, [NdjsonClient.Record("plain-1", 0, 1, 2, 3, 4)], Timeout);
        Assert.Empty(answer);
        await service.WaitForLogAsync("TLS handshake failed", Timeout);
        Assert.Equal(1, await LiveKeysAsync(service));
        Assert.Matches("lstmstream_tcp_connections_refused_total\\{[^}]*reason=\"tls\"[^}]*\\} 1(\\s|$)", await MetricsAsync(service));
    }

    [Fact]
    public async Task A_renewed_certificate_is_served_to_the_next_connection_without_a_restart()
    {
        await using var service = await RunningService.StartAsync(TlsSettings());
        Assert.Equal(_server.Certificate.Thumbprint, await ServedThumbprintAsync(service));

        var (renewed, renewedCertificate, renewedKey) = _pki.Server();
        using (renewed)
        {
            File.Copy(renewedCertificate, _server.CertificateFile, overwrite: true);
            File.Copy(renewedKey, _server.KeyFile, overwrite: true);
            File.SetLastWriteTimeUtc(_server.CertificateFile, DateTime.UtcNow.AddMinutes(1));

            // The files are looked at no more than once a second: connect until the renewed one is served.
            using var deadline = new CancellationTokenSource(Timeout);
            while (await ServedThumbprintAsync(service) != renewed.Thumbprint) await Task.Delay(100, deadline.Token);
            await service.WaitForLogAsync("certificate reloaded", Timeout);
        }
    }

    [Fact]
    public async Task Mutual_TLS_takes_a_certificate_of_the_configured_CA_and_refuses_others_and_none()
    {
        await using var service = await RunningService.StartAsync(TlsSettings($"--LstmStream:Tcp:Tls:ClientCaFile={_pki.AuthorityFile}"));
        using var trusted = _pki.Client("plant-a");
        using var otherPki = new TestCertificates("Somebody Else's CA");
        using var untrusted = otherPki.Client("plant-a");

        var replies = await ExchangeOverTlsAsync(service, trusted, [NdjsonClient.Record("plant-a/s1", 0, 1, 2, 3, 4)]);
        Assert.Single(replies);

        Assert.True(await IsRefusedAsync(service, untrusted), "a certificate of another CA was accepted");
        Assert.True(await IsRefusedAsync(service, null), "a client without a certificate was accepted");
        Assert.Equal(1, await LiveKeysAsync(service));
    }

    [Fact]
    public async Task A_client_writing_outside_its_key_prefixes_gets_error_records_and_touches_no_state()
    {
        await using var service = await RunningService.StartAsync(TlsSettings(
            $"--LstmStream:Tcp:Tls:ClientCaFile={_pki.AuthorityFile}",
            "--LstmStream:Tcp:Clients:0:Name=plant-a",
            "--LstmStream:Tcp:Clients:0:KeyPrefixes:0=plant-a/",
            "--LstmStream:Tcp:Clients:1:Name=plant-b",
            "--LstmStream:Tcp:Clients:1:KeyPrefixes:0=plant-b/"));
        using var plantA = _pki.Client("plant-a");
        using var stranger = _pki.Client("plant-z");

        var replies = await ExchangeOverTlsAsync(service, plantA,
        [
            NdjsonClient.Record("plant-a/s1", 0, 1, 2, 3, 4),
            NdjsonClient.Record("plant-b/s1", 0, 1, 2, 3, 4),
            NdjsonClient.Record("plant-a/s2", 0, 1, 2, 3, 4),
        ]);

        Assert.Equal(3, replies.Count);
        var error = replies.Select(r => JsonDocument.Parse(r).RootElement).Single(r => r.TryGetProperty("error", out _));
        Assert.Equal(2, error.GetProperty("line").GetInt64());
        Assert.Equal("key", error.GetProperty("field").GetString());
        Assert.Equal("plant-b/s1", error.GetProperty("key").GetString());
        Assert.Equal("client 'plant-a' may not write this key (allowed prefixes: 'plant-a/')", error.GetProperty("error").GetString());
        Assert.Equal(2, await LiveKeysAsync(service));

        // A certificate of the right CA whose name is not a configured client is refused with an error record.
        var refused = await ExchangeOverTlsAsync(service, stranger, [NdjsonClient.Record("plant-z/s1", 0, 1, 2, 3, 4)]);
        var refusal = JsonDocument.Parse(Assert.Single(refused)).RootElement;
        Assert.Equal("auth", refusal.GetProperty("field").GetString());
        Assert.Contains("'plant-z' is not among Tcp:Clients", refusal.GetProperty("error").GetString());
        Assert.Equal(2, await LiveKeysAsync(service));
    }

    [Fact]
    public async Task Without_mutual_TLS_a_client_proves_itself_with_a_first_line_token()
    {
        const string token = "plant-a-token-0123456789";
        await using var service = await RunningService.StartAsync(
            "--LstmStream:Tcp:Clients:0:Name=plant-a",
            $"--LstmStream:Tcp:Clients:0:Token={token}",
            "--LstmStream:Tcp:Clients:0:KeyPrefixes:0=plant-a/");

        using (var client = await service.ConnectAsync())
        {
            var replies = await NdjsonClient.ExchangeAsync(client,
                [$$"""{"auth":"{{token}}"}""", NdjsonClient.Record("plant-a/s1", 0, 1, 2, 3, 4), NdjsonClient.Record("other", 0, 1, 2, 3, 4)], Timeout);
            // An error record leaves at once, an output after the pipeline: the two may come in either order.
            var parsed = replies.Select(r => JsonDocument.Parse(r).RootElement).ToList();
            Assert.Equal(2, parsed.Count);
            Assert.Equal("plant-a/s1", parsed.Single(r => r.TryGetProperty("y", out _)).GetProperty("key").GetString());
            var error = parsed.Single(r => r.TryGetProperty("error", out _));
            Assert.Equal(("key", "other", 3L), (error.GetProperty("field").GetString(), error.GetProperty("key").GetString(), error.GetProperty("line").GetInt64()));
        }

        foreach (var first in new[] { """{"auth":"wrong-token-0123456789"}""", NdjsonClient.Record("plant-a/s2", 0, 1, 2, 3, 4) })
        {
            using var client = await service.ConnectAsync();
            var replies = await NdjsonClient.ExchangeAsync(client, [first, NdjsonClient.Record("plant-a/s3", 0, 1, 2, 3, 4)], Timeout);
            Assert.Equal("auth", JsonDocument.Parse(Assert.Single(replies)).RootElement.GetProperty("field").GetString());
        }

        Assert.Equal(1, await LiveKeysAsync(service));
        Assert.DoesNotContain(service.Logs, l => l.Contains(token, StringComparison.Ordinal));
        Assert.Matches("lstmstream_tcp_connections_refused_total\\{[^}]*reason=\"auth\"[^}]*\\} 2(\\s|$)", await MetricsAsync(service));
    }

    [Theory]
    [InlineData(new[] { "--LstmStream:Tcp:Endpoint=0.0.0.0:0" }, "LstmStream:Tcp:Endpoint: '0.0.0.0:0' is not a loopback address and Tcp:Tls is not configured")]
    [InlineData(new[] { "--LstmStream:Tcp:Tls:CertificateFile=/no/such.pem", "--LstmStream:Tcp:Tls:KeyFile=/no/such.key" }, "LstmStream:Tcp:Tls:CertificateFile: '/no/such.pem' does not exist")]
    [InlineData(new[] { "--LstmStream:Tcp:Clients:0:Name=a", "--LstmStream:Tcp:Clients:0:KeyPrefixes:0=a/" }, "LstmStream:Tcp:Clients:0:Token: is not set")]
    [InlineData(new[] { "--LstmStream:Tcp:Clients:0:Name=a", "--LstmStream:Tcp:Clients:0:Token=0123456789abcdef" }, "LstmStream:Tcp:Clients:0:KeyPrefixes: is empty")]
    public async Task Unsafe_or_broken_TCP_security_settings_stop_the_start_naming_the_setting(string[] settings, string error)
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningService.StartAsync(settings));

        Assert.Contains(error, e.Message, StringComparison.Ordinal);
    }

    private async Task<List<string>> ExchangeOverTlsAsync(RunningService service, X509Certificate2? clientCertificate, IReadOnlyList<string> lines)
    {
        using var client = await service.ConnectAsync();
        await using var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsToTestCa(certificate),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
        var reading = NdjsonClient.ReadAllLinesAsync(ssl, Timeout);
        await ssl.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n"))));
        await ssl.ShutdownAsync();
        return await reading;
    }

    /// <summary>
    /// Whether a client is refused: its handshake fails, or (TLS 1.3, where the server checks the client's
    /// certificate after the client considers the handshake done) the connection ends without an answer.
    /// </summary>
    private async Task<bool> IsRefusedAsync(RunningService service, X509Certificate2? clientCertificate)
    {
        try
        {
            return (await ExchangeOverTlsAsync(service, clientCertificate, [NdjsonClient.Record("refused", 0, 1, 2, 3, 4)])).Count == 0;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return true;
        }
    }

    private bool ChainsToTestCa(X509Certificate? certificate) =>
        certificate is not null && CertificateFiles.ChainsTo([_pki.Authority], certificate, purpose: null);

    /// <summary>The thumbprint of the certificate the service presents to a new connection.</summary>
    private async Task<string> ServedThumbprintAsync(RunningService service)
    {
        using var client = await service.ConnectAsync();
        await using var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsToTestCa(certificate),
        });
        return ssl.RemoteCertificate!.GetCertHashString();
    }

    private static async Task<string> MetricsAsync(RunningService service)
    {
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        return await http.GetStringAsync("metrics");
    }

    private static async Task<int> LiveKeysAsync(RunningService service)
    {
        using var http = new HttpClient { BaseAddress = service.HttpBase, Timeout = Timeout };
        return JsonDocument.Parse(await http.GetStringAsync("admin/counts")).RootElement.GetProperty("liveKeys").GetInt32();
    }
}
