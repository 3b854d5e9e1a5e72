using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LstmStream.Tests.Channels.Mqtt;

/// <summary>
/// A real mosquitto broker on a free loopback port, with a throw-away configuration (anonymous, no persistence),
/// started for the tests and killed after them. Fails, never skips, when mosquitto is not installed:
/// <c>scripts/test.sh</c> (and CI) installs it.
/// </summary>
public sealed class MosquittoBroker : IAsyncLifetime
{
    private static readonly string[] Candidates = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/local/bin/mosquitto"];

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"lstmstream-mosquitto-{Guid.NewGuid():N}");
    private readonly string _listenerOptions;
    private readonly bool _allowAnonymous;
    private Process? _process;

    /// <summary>An anonymous plain-TCP broker (as a class fixture: xunit needs this constructor).</summary>
    public MosquittoBroker()
        : this("", allowAnonymous: true)
    {
    }

    /// <summary>A broker whose listener takes extra configuration lines (TLS files, password_file, …).</summary>
    /// <param name="allowAnonymous">Whether clients without a user name are let in.</param>
    public static MosquittoBroker WithListener(string listenerOptions, bool allowAnonymous) => new(listenerOptions, allowAnonymous);

    private MosquittoBroker(string listenerOptions, bool allowAnonymous)
    {
        _listenerOptions = listenerOptions;
        _allowAnonymous = allowAnonymous;
    }

    /// <summary>The broker's own folder (for files its configuration names).</summary>
    public string Folder => _directory;

    public string Host => "127.0.0.1";
    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        Port = FreePort();
        Directory.CreateDirectory(_directory);
        // mosquitto started as root runs as the user 'mosquitto', which must read what the folder holds.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_directory, (UnixFileMode)0b111_101_101);
        await File.WriteAllTextAsync(ConfigPath,
            $"listener {Port} 127.0.0.1\n{_listenerOptions}\nallow_anonymous {(_allowAnonymous ? "true" : "false")}\n" +
            "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n");
        await StartAsync();
    }

    private string ConfigPath => Path.Combine(_directory, "mosquitto.conf");

    private static string Executable()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "mosquitto"));
        return Candidates.Concat(onPath).FirstOrDefault(File.Exists)
               ?? throw new InvalidOperationException(
                   "The MQTT tests need the mosquitto broker, which is not installed: run scripts/test.sh (it installs the " +
                   "Debian package 'mosquitto'; CI does the same) or 'apt-get install mosquitto'.");
    }

    /// <summary>Starts the broker and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false }) throw new InvalidOperationException("the broker is already running");
        var start = new ProcessStartInfo(Executable(), ["-c", ConfigPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("mosquitto did not start");
        _process.ErrorDataReceived += (_, _) => { };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"mosquitto exited with code {_process.ExitCode} at start (port {Port}, config {ConfigPath})");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Kills the broker (as a crash would: no clean disconnect of its clients).</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _process = null;
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
