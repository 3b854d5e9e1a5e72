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

    /// <summary>
    /// CPU seconds (user + system) the server has used so far: the postmaster, its live children (backends, WAL writer,
    /// checkpointer, autovacuum) and the children it has reaped, from /proc. Differences of two readings are what the server
    /// spent between them.
    /// </summary>
    public double CpuSeconds()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(DataFolder, "data", "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        var ticks = 0L;
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid)) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(folder, "stat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }

            // Fields after the command's closing parenthesis: state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var parent = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            if (pid != postmaster && parent != postmaster) continue;
            ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            if (pid == postmaster)
                ticks += long.Parse(fields[13], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[14], System.Globalization.CultureInfo.InvariantCulture);
        }

        return ticks / 100.0; // USER_HZ
    }

    /// <summary>Bytes of write-ahead log the server has written so far (its current WAL position).</summary>
    public async Task<long> WalBytesAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
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
