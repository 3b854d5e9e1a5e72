using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using LstmStream.Hosting.Cli;

namespace LstmStream.Tests.Service;

/// <summary>
/// <c>serve</c> as systemd runs it (<c>Type=notify</c>): a real process whose parent is named <c>systemd</c>
/// (that is how .NET recognizes a systemd service) with <c>NOTIFY_SOCKET</c> pointing at a unix datagram socket
/// this test listens on.
/// </summary>
[Collection(ServiceHostCollection.Name)]
public sealed class SystemdNotificationTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("lstmstream-systemd-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Readiness_is_notified_after_the_ports_are_bound_and_stopping_when_the_drain_begins()
    {
        if (!OperatingSystem.IsLinux()) return;
        var socketPath = Path.Combine(_directory, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var notifications = new BlockingCollection<string>();
        var receiving = Task.Run(() => Receive(notify, notifications));

        // The parent the service sees is a shell under the name "systemd" that waits for it and exits with its status.
        var systemd = Path.Combine(_directory, "systemd");
        File.CreateSymbolicLink(systemd, "/bin/bash");
        var tcpPort = RunningService.FreePort();
        var httpPort = RunningService.FreePort();
        var dll = Path.Combine(Path.GetDirectoryName(typeof(CliApplication).Assembly.Location)!, "lstmstream.dll");
        var start = new ProcessStartInfo(systemd)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            Environment = { ["NOTIFY_SOCKET"] = socketPath },
        };
        foreach (var arg in new[]
                 {
                     "-c", "\"$@\"; exit $?", "systemd",
                     "dotnet", dll, "serve", "--model", RunningService.DemoModel, "--no-simulator",
                     "--tcp", $"127.0.0.1:{tcpPort}", "--metrics", $"127.0.0.1:{httpPort}", "--LstmStream:Math:Backend=managed",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        using var shell = Process.Start(start)!;
        var stderr = shell.StandardError.ReadToEndAsync();
        _ = shell.StandardOutput.ReadToEndAsync();
        try
        {
            Assert.Equal("READY=1", await NextAsync(notifications, shell, stderr));

            // At READY=1 the ports answer and the pipeline runs.
            using (var tcp = new TcpClient())
                await tcp.ConnectAsync("127.0.0.1", tcpPort);
            using (var http = new HttpClient { Timeout = Patience })
            {
                var health = await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/health"));
                Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
            }

            await SignalAsync(ServicePid(shell.Id), "TERM");
            Assert.Equal("STOPPING=1", await NextAsync(notifications, shell, stderr));
            using var exit = new CancellationTokenSource(Patience);
            await shell.WaitForExitAsync(exit.Token);
            Assert.Equal(0, shell.ExitCode);

            // journald's format: <priority>category[event id] message, one line each (6 = informational).
            var log = await stderr;
            Assert.Contains(log.Split('\n'), line => line.StartsWith("<6>LstmStream.Hosting.Service.ServiceRuntime[0] LstmStream serving", StringComparison.Ordinal));
            Assert.DoesNotContain(log.Split('\n'), line => line.Length > 0 && !line.StartsWith('<'));
        }
        finally
        {
            if (!shell.HasExited) shell.Kill(entireProcessTree: true);
            notify.Close();
            await receiving;
        }
    }

    private static void Receive(Socket socket, BlockingCollection<string> into)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var length = socket.Receive(buffer);
                // A datagram may carry several newline-separated assignments.
                foreach (var line in Encoding.UTF8.GetString(buffer, 0, length).Split('\n', StringSplitOptions.RemoveEmptyEntries)) into.Add(line);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            into.CompleteAdding();
        }
    }

    private static async Task<string> NextAsync(BlockingCollection<string> notifications, Process shell, Task<string> stderr)
    {
        if (notifications.TryTake(out var line, Patience)) return line;
        var log = shell.HasExited ? await stderr : "(still running)";
        throw new TimeoutException($"no notification within {Patience.TotalSeconds} s; service log: {log}");
    }

    /// <summary>The service: the one child of the shell named systemd.</summary>
    private static int ServicePid(int shellPid)
    {
        var children = File.ReadAllText($"/proc/{shellPid}/task/{shellPid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return int.Parse(Assert.Single(children), CultureInfo.InvariantCulture);
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }
}
