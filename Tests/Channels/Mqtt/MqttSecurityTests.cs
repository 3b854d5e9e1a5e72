using System.Diagnostics;
using Akka.Streams;
using LstmStream.Hosting.Options;
using LstmStream.Pipeline.Models;
using LstmStream.Tests.Channels.Tls;
using LstmStream.Tests.Streaming;
using LstmStream.Tests.Support;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>
/// The MQTT channels against a real mosquitto that takes only TLS with client certificates of its CA and a user
/// name and password from its <c>password_file</c> (made with <c>mosquitto_passwd</c>).
/// </summary>
public sealed class MqttSecurityTests : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private const string User = "lstm-service";
    private const string Password = "correct horse battery staple";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TestCertificates _pki = new();
    private MosquittoBroker _broker = null!;
    private string _passwordFile = "";
    private (System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate, string CertificateFile, string KeyFile) _client;

    public async Task InitializeAsync()
    {
        var server = _pki.Server();
        _client = _pki.ClientFiles("lstm-service");
        var brokerPasswords = Path.Combine(Path.GetDirectoryName(_pki.AuthorityFile)!, "passwords");
        await RunAsync("mosquitto_passwd", "-c", "-b", brokerPasswords, User, Password);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(brokerPasswords, (UnixFileMode)0b110_100_100);
        _broker = MosquittoBroker.WithListener(
            $"cafile {_pki.AuthorityFile}\ncertfile {server.CertificateFile}\nkeyfile {server.KeyFile}\nrequire_certificate true\n" +
            $"password_file {brokerPasswords}", allowAnonymous: false);
        await _broker.InitializeAsync();
        _passwordFile = Path.Combine(Path.GetDirectoryName(_pki.AuthorityFile)!, "service.password");
        await File.WriteAllTextAsync(_passwordFile, Password + "\n");
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        _client.Certificate.Dispose();
        _pki.Dispose();
    }

    private MqttClientSettings Secured(string prefix, string? passwordFile = null) => MqttChain.OptionsFor(_broker, prefix) with
    {
        Host = "localhost",
        UseTls = true,
        CaFile = _pki.AuthorityFile,
        ClientCertificateFile = _client.CertificateFile,
        ClientKeyFile = _client.KeyFile,
        Username = User,
        PasswordFile = passwordFile ?? _passwordFile,
    };

    [Fact]
    public async Task With_TLS_a_client_certificate_and_the_right_password_readings_flow_and_survive_a_broker_restart()
    {
        var model = RandomModel.Create(4, [6], headOutputs: 2, seed: 4);
        var prefix = $"s{Guid.NewGuid():N}"[..13];
        var steps = StreamingTestData.InterleavedSteps(new Random(3), keys: 3, maxSteps: 6, width: model.InputSize);
        var cut = steps.Count / 2;
        var logger = new ListLogger();
        var options = Secured(prefix);
        await using var chain = await MqttChain.StartAsync(options, model, Sys.Materializer(), logger);

        var outputs = new List<PublishedOutput>();
        await using (var client = await MqttTestClient.ConnectAsync(_broker, options, $"{prefix}/lstm/+/output"))
        {
            foreach (var step in steps.Take(cut)) await client.PublishAsync(chain.ReadingTopic(step.Key), MqttChain.Reading(step));
            outputs.AddRange((await client.WaitForAsync(cut, _ => true, Wait)).Select(m => MqttChain.ParseOutput(m.Payload)));
        }

        await _broker.StopAsync();
        await _broker.StartAsync();
        var deadline = DateTime.UtcNow + Wait;
        while (chain.Ingress.Connects < 2 || chain.Publisher.Connects < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the secured channels did not reconnect after the broker restart");
            await Task.Delay(50);
        }

        await using (var client = await MqttTestClient.ConnectAsync(_broker, options, $"{prefix}/lstm/+/output"))
        {
            foreach (var step in steps.Skip(cut)) await client.PublishAsync(chain.ReadingTopic(step.Key), MqttChain.Reading(step));
            outputs.AddRange((await client.WaitForAsync(steps.Count - cut, _ => true, Wait)).Select(m => MqttChain.ParseOutput(m.Payload)));
        }

        MqttChain.AssertMatchesReference(model, steps, outputs);
        Assert.DoesNotContain(logger.Lines, l => l.Message.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_password_is_refused_with_a_log_line_that_names_the_user_and_not_the_password()
    {
        var wrong = Path.Combine(Path.GetDirectoryName(_pki.AuthorityFile)!, "wrong.password");
        await File.WriteAllTextAsync(wrong, "not the password");
        var logger = new ListLogger();
        await using var ingress = new LstmStream.Hosting.Channels.Mqtt.MqttRecordIngress(Secured("wrong", wrong), 4, logger);
        ingress.Start();

        var deadline = DateTime.UtcNow + Wait;
        while (!logger.Lines.Any(l => l.Message.Contains("refused the credentials", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no log line about refused credentials: " + string.Join(" | ", logger.Lines.Select(l => l.Message)));
            await Task.Delay(50);
        }

        var line = logger.Lines.First(l => l.Message.Contains("refused the credentials", StringComparison.Ordinal)).Message;
        Assert.Contains($"user '{User}'", line);
        Assert.DoesNotContain("not the password", line);
        Assert.Equal(0, ingress.Connects);
    }

    [Fact]
    public async Task Without_a_client_certificate_the_broker_refuses_the_connection()
    {
        var logger = new ListLogger();
        var noCertificate = Secured("nocert") with { ClientCertificateFile = null, ClientKeyFile = null };
        await using var ingress = new LstmStream.Hosting.Channels.Mqtt.MqttRecordIngress(noCertificate, 4, logger);
        ingress.Start();

        var deadline = DateTime.UtcNow + Wait;
        while (!logger.Lines.Any(l => l.Message.Contains("cannot connect", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no log line about the refused connection");
            await Task.Delay(50);
        }

        Assert.Equal(0, ingress.Connects);
    }

    [Theory]
    [InlineData("CaFile", "Mqtt:CaFile needs UseTls=true")]
    [InlineData("Password", "Mqtt:Username must be set when a password is")]
    [InlineData("Both", "Mqtt:Password and Mqtt:PasswordFile are both set")]
    public void Inconsistent_security_settings_are_refused_naming_the_setting(string which, string error)
    {
        var settings = which switch
        {
            "CaFile" => new MqttClientSettings { CaFile = _pki.AuthorityFile },
            "Password" => new MqttClientSettings { Password = "secret" },
            _ => new MqttClientSettings { Username = "u", Password = "secret", PasswordFile = _passwordFile },
        };

        var e = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.StartsWith(error, e.Message);
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} failed: {await process.StandardError.ReadToEndAsync()}");
    }
}
