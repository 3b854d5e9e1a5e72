using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace LstmStream.Benchmarks;

/// <summary>
/// A private PostgreSQL 15 server for a benchmark or a test class: its own data folder in a temp directory (owned by the
/// <c>postgres</c> user, trust authentication), a free loopback port, the socket in /tmp; started by
/// <c>initdb</c> and <c>pg_ctl</c> run as <c>postgres</c> (the tests run as root), stopped and deleted on dispose.
/// Needs Debian's <c>postgresql</c> package (scripts/test.sh installs it; <see cref="IsInstalled"/> says whether it is).
/// </summary>
public class PrivatePostgreSqlServer
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private int _databases;

    public string DataFolder { get; } = Path.Combine(Path.GetTempPath(), $"lstmstream-pg-{Guid.NewGuid():N}");

    public int Port { get; private set; }

    public bool IsRunning { get; private set; }

    /// <summary>Whether PostgreSQL 15's server programs are installed.</summary>
    public static bool IsInstalled => File.Exists(Path.Combine(Bin, "pg_ctl"));

    /// <summary>Creates the data folder and starts the server.</summary>
    public async Task InitializeAsync()
    {
        if (!IsInstalled)
            throw new InvalidOperationException($"PostgreSQL 15 is not installed ({Bin}/pg_ctl missing): install Debian's postgresql package (scripts/test.sh does)");
        Directory.CreateDirectory(DataFolder);
        await RunAsync("chown", ["-R", "postgres:postgres", DataFolder]);
        await RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(Bin, "initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D", Path.Combine(DataFolder, "data")]);
        Port = FreePort();
        await StartAsync();
    }

    /// <summary>A connection string to a new, empty database of this server.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"lstm{Interlocked.Increment(ref _databases)}";
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        return ConnectionString(name);
    }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username=postgres;Timeout=5;Command Timeout=10;Pooling=true";

    public async Task StartAsync()
    {
        await RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(DataFolder, "data"), "-w", "-t", "60",
            "-l", Path.Combine(DataFolder, "server.log"), "-o", $"-p {Port} -k /tmp -c listen_addresses=127.0.0.1", "start"]);
        IsRunning = true;
    }

    public async Task StopAsync()
    {
        IsRunning = false;
        await RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(DataFolder, "data"), "-w", "-t", "60", "-m", "immediate", "stop"]);
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (IsRunning) await StopAsync();
        }
        finally
        {
            Directory.Delete(DataFolder, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            var log = Path.Combine(DataFolder, "server.log");
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}" +
                (File.Exists(log) ? $"\nserver log:\n{await File.ReadAllTextAsync(log)}" : ""));
        }
    }
}
