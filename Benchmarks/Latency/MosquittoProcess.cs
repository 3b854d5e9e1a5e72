using System.Diagnostics;
using System.Net.Sockets;

namespace LstmStream.Benchmarks.Latency;

/// <summary>
/// A real mosquitto broker (Debian's <c>mosquitto</c> package) on a free loopback port, with a throw-away
/// configuration: anonymous, no persistence, its defaults otherwise, except a deep queue per client so the peak
/// measurement does not lose messages to the broker's queue limit. Killed on dispose.
/// </summary>
internal sealed class MosquittoProcess : IDisposable
{
    private static readonly string[] Candidates = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/local/bin/mosquitto"];
    private readonly Process _process;
    private readonly string _directory;

    private MosquittoProcess(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public static string? Executable() => Candidates.FirstOrDefault(File.Exists);

    public static MosquittoProcess Start()
    {
        var executable = Executable() ?? throw new InvalidOperationException("mosquitto is not installed (apt-get install mosquitto)");
        var port = FreePort.Next();
        var directory = Path.Combine(Path.GetTempPath(), $"lstmstream-bench-mosquitto-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        // mosquitto started as root runs as the user 'mosquitto', which must read the folder.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        var config = Path.Combine(directory, "mosquitto.conf");
        File.WriteAllText(config,
            $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n" +
            "log_dest stderr\nlog_type error\nlog_type warning\n");
        var start = new ProcessStartInfo(executable, ["-c", config]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException("mosquitto did not start");
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var broker = new MosquittoProcess(process, directory, port);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                broker.Dispose();
                throw new InvalidOperationException($"mosquitto exited with code {process.ExitCode} at start (port {port})");
            }

            try
            {
                using var probe = new TcpClient();
                probe.Connect(broker.Host, port);
                return broker;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                Thread.Sleep(50);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(5000);
        }
        finally
        {
            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
