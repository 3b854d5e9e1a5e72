using LstmStream.Hosting.Cli;
using LstmStream.Hosting.Options;
using LstmStream.Hosting.Service;
using LstmStream.Tests.Service;
using Microsoft.Extensions.Configuration;

namespace LstmStream.Tests.Options;

public sealed class ServiceSettingsTests
{
    [Theory]
    [InlineData("--LstmStream:Batch:MaxRows=0", "LstmStream:Batch:MaxRows", "must be positive")]
    [InlineData("--LstmStream:Batch:MaxRows=lots", "LstmStream:Batch:MaxRows", "convert")]
    [InlineData("--LstmStream:Tcp:Endpoint=nowhere", "LstmStream:Tcp:Endpoint", "HOST:PORT")]
    [InlineData("--LstmStream:Http:Endpoint=0.0.0.0:9464", "LstmStream:Http:Endpoint", "loopback")]
    [InlineData("--LstmStream:Math:Backend=gpu", "LstmStream:Math:Backend", "unknown backend 'gpu'")]
    [InlineData("--LstmStream:Model:Path=/no/such/model.onnx", "LstmStream:Model:Path", "does not exist")]
    [InlineData("--LstmStream:Shutdown:Deadline=-00:00:01", "LstmStream:Shutdown:Deadline", "must be within")]
    [InlineData("--LstmStream:Sessions:MaxLiveKeys=-5", "LstmStream:Sessions:MaxLiveKeys", "must not be negative")]
    [InlineData("--LstmStream:Model:MaxBytes=0", "LstmStream:Model:MaxBytes", "must be a positive number of bytes")]
    [InlineData("--LstmStream:Limits:MaxLineBytes=10", "LstmStream:Limits:MaxLineBytes", "must be at least 64 bytes, got 10")]
    [InlineData("--LstmStream:Limits:MaxKeyBytes=0", "LstmStream:Limits:MaxKeyBytes", "must be positive, got 0")]
    [InlineData("--LstmStream:Limits:MaxKeyBytes=2000000", "LstmStream:Limits:MaxKeyBytes", "must not exceed Limits:MaxLineBytes (1048576)")]
    [InlineData("--LstmStream:Tcp:MaxLineBytes=4096", "LstmStream:Tcp:MaxLineBytes", "is replaced by LstmStream:Limits:MaxLineBytes")]
    [InlineData("--LstmStream:Tcp:IdleTimeout=-00:00:01", "LstmStream:Tcp:IdleTimeout", "must not be negative (zero: never)")]
    [InlineData("--LstmStream:Sessions:Store=", "LstmStream:Sessions:Store", "is empty")]
    [InlineData("--LstmStream:Sessions:Store=/tmp", "LstmStream:Sessions:Store", "is a folder")]
    [InlineData("--LstmStream:Sessions:Store=Host=db;Port=notaport", "LstmStream:Sessions:Store", "not a valid PostgreSQL connection string")]
    [InlineData("--LstmStream:Sessions:Buckets=0", "LstmStream:Sessions:Buckets", "must be within 1..65536")]
    [InlineData("--LstmStream:Sessions:EvictTo=disk", "LstmStream:Sessions:EvictTo", "must be 'store' or 'discard'")]
    [InlineData("--LstmStream:Sessions:EvictTo=store", "LstmStream:Sessions:EvictTo", "Sessions:Store is 'none'")]
    [InlineData("--LstmStream:Sessions:Checkpoint:Interval=00:00:00", "LstmStream:Sessions:Checkpoint:Interval", "must be positive")]
    [InlineData("--LstmStream:Sessions:Checkpoint:MaxRetryDelay=00:00:00.5", "LstmStream:Sessions:Checkpoint:MaxRetryDelay", "at least 1 second")]
    [InlineData("--LstmStream:Sessions:StoreTimeout=00:00:00", "LstmStream:Sessions:StoreTimeout", "must be positive")]
    public async Task An_invalid_setting_stops_the_start_with_a_message_naming_the_key(string setting, string key, string reason)
    {
        var error = new StringWriter();
        var code = await CliApplication.InvokeAsync(
            ["serve", "--model", RunningService.DemoModel, "--no-simulator", "--tcp", "127.0.0.1:0",
                "--metrics", $"127.0.0.1:{RunningService.FreePort()}", setting],
            TextWriter.Null, error);

        Assert.Equal(ServiceRunner.StartFailed, code);
        var message = error.ToString();
        Assert.Contains(key, message, StringComparison.Ordinal);
        Assert.Contains(reason, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_listener_port_in_use_stops_the_start_naming_the_endpoint_setting()
    {
        var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        try
        {
            var error = new StringWriter();
            var code = await CliApplication.InvokeAsync(
                ["serve", "--model", RunningService.DemoModel, "--no-simulator", "--tcp", busy.LocalEndpoint.ToString()!,
                    "--metrics", $"127.0.0.1:{RunningService.FreePort()}"],
                TextWriter.Null, error);
            Assert.Equal(ServiceRunner.StartFailed, code);
            Assert.Contains("LstmStream:Tcp:Endpoint", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            busy.Stop();
        }
    }

    [Fact]
    public void A_public_endpoint_without_TLS_is_accepted_only_with_AllowPlaintext()
    {
        var validator = new ServiceOptionsValidator(Support.SharedData.RepositoryRoot);
        var options = new ServiceOptions { Model = { Path = RunningService.DemoModel }, Tcp = { Endpoint = "0.0.0.0:7878" } };

        Assert.Contains(validator.Check(options), f => f.StartsWith("LstmStream:Tcp:Endpoint: '0.0.0.0:7878' is not a loopback address and Tcp:Tls is not configured", StringComparison.Ordinal));
        options.Tcp.AllowPlaintext = true;
        Assert.Empty(validator.Check(options));
    }

    [Fact]
    public void The_shipped_settings_are_valid_and_enable_the_simulator_on_loopback()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Support.SharedData.RepositoryRoot, "appsettings.json"))
            .Build();
        var options = ServiceHostFactory.ReadAndCheck(configuration, Support.SharedData.RepositoryRoot);
        Assert.True(options.Simulator.Enabled);
        Assert.Equal("127.0.0.1:7878", options.Tcp.Endpoint);
        Assert.Equal("127.0.0.1:9464", options.Http.Endpoint);
    }

    [Fact]
    public void The_production_example_turns_the_simulator_off_and_secures_every_channel()
    {
        using var pki = new LstmStream.Tests.Channels.Tls.TestCertificates();
        var (server, certificateFile, keyFile) = pki.Server();
        server.Dispose();
        var folder = Path.GetDirectoryName(pki.AuthorityFile)!;
        var secrets = Path.Combine(folder, "secret");
        File.WriteAllText(secrets, "a-production-secret-0123456789\n");
        var files = new Dictionary<string, string?>
        {
            ["LstmStream:Model:Path"] = RunningService.DemoModel,
            ["LstmStream:Tcp:Tls:CertificateFile"] = certificateFile,
            ["LstmStream:Tcp:Tls:KeyFile"] = keyFile,
            ["LstmStream:Tcp:Tls:ClientCaFile"] = pki.AuthorityFile,
            ["LstmStream:Mqtt:Client:CaFile"] = pki.AuthorityFile,
            ["LstmStream:Mqtt:Client:PasswordFile"] = secrets,
            ["LstmStream:Http:AdminTokenFile"] = secrets,
        };

        var options = ServiceHostFactory.ReadAndCheck(Production(files), Support.SharedData.RepositoryRoot);

        Assert.False(options.Simulator.Enabled);
        Assert.Equal("0.0.0.0:7878", options.Tcp.Endpoint);
        Assert.True(options.Tcp.Tls.Enabled);
        Assert.False(options.Tcp.AllowPlaintext);
        Assert.All(options.Tcp.Clients, c => Assert.NotEmpty(c.KeyPrefixes));
        Assert.True(options.Mqtt.Client.UseTls);
        Assert.NotNull(options.Http.ReadAdminToken(out _));

        // Without its certificate files the example refuses to start rather than listen in plain text.
        files.Remove("LstmStream:Tcp:Tls:CertificateFile");
        var e = Assert.ThrowsAny<Exception>(() => ServiceHostFactory.ReadAndCheck(Production(files), Support.SharedData.RepositoryRoot));
        Assert.Contains("LstmStream:Tcp:Tls:CertificateFile: '/etc/lstmstream/tls/server.pem' does not exist", e.Message);
    }

    private static Microsoft.Extensions.Configuration.IConfiguration Production(Dictionary<string, string?> overrides) =>
        new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Support.SharedData.RepositoryRoot, "appsettings.json"))
            .AddJsonFile(Path.Combine(Support.SharedData.RepositoryRoot, "examples", "appsettings.Production.json"))
            .AddInMemoryCollection(overrides)
            .Build();

    [Theory]
    [InlineData("127.0.0.1:7878", "127.0.0.1", 7878)]
    [InlineData("[::1]:80", "::1", 80)]
    [InlineData("localhost:0", "127.0.0.1", 0)]
    public void Host_port_settings_parse(string text, string address, int port)
    {
        Assert.True(HostPort.TryParse(text, out var endpoint, out _));
        Assert.Equal(address, endpoint.Address.ToString());
        Assert.Equal(port, endpoint.Port);
    }

    [Theory]
    [InlineData("")]
    [InlineData("7878")]
    [InlineData("example.com:7878")]
    [InlineData("127.0.0.1:70000")]
    public void Bad_host_port_settings_are_refused(string text) => Assert.False(HostPort.TryParse(text, out _, out _));
}
