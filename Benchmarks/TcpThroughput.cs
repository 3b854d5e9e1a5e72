using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Service;
using LstmStream.Pipeline.Models.Onnx;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LstmStream.Benchmarks;

/// <summary>
/// Records/s through <c>serve</c>'s TCP channel over loopback, plaintext and TLS: two <c>serve</c> hosts in this process
/// (<see cref="ServiceRunner"/>, the model exported as ONNX, auto backends with 1 thread, batches of up to 1024 rows), one
/// connection to each sending an NDJSON file of records for 1024 keys round robin while it reads every output. Timed
/// from the first byte sent to the last output read. After a warm-up of at least <see cref="WarmUp"/>, repetitions
/// alternate between the two services (a busy spell of a shared machine hits both alike); the median of each counts.
/// </summary>
internal static class TcpThroughput
{
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(4);
    private const int ChunkBytes = 64 * 1024;

    /// <param name="PlainAllocatedBytesPerRecord">Managed bytes allocated per record over the plaintext repetitions, whole process (service and client).</param>
    public sealed record Result(string Workload, long Records, int Keys, double PlainRecordsPerSecond, double TlsRecordsPerSecond, string TlsCipher,
        IReadOnlyList<double> PlainSamples, IReadOnlyList<double> TlsSamples, double PlainAllocatedBytesPerRecord, double TlsAllocatedBytesPerRecord)
    {
        /// <summary>TLS records/s as a share of plaintext records/s (the target is at least 0.9).</summary>
        public double TlsShare => TlsRecordsPerSecond / PlainRecordsPerSecond;
    }

    public static async Task<Result> MeasureAsync(Workload workload, long records, int repetitions, string tempPrefix, TextWriter progress)
    {
        var directory = Path.GetDirectoryName(tempPrefix) is { Length: > 0 } d ? d : ".";
        var prefix = Path.GetFileName(tempPrefix);
        var input = await File.ReadAllBytesAsync(NdjsonInputFile.Ensure(directory, prefix, workload.Model.InputSize, records)).ConfigureAwait(false);
        var files = Directory.CreateTempSubdirectory("lstmstream-bench-tcp-");
        try
        {
            var model = Path.Combine(files.FullName, $"{workload.Name}.onnx");
            OnnxModelWriter.Write(workload.Model, model);
            using var certificate = SelfSigned(files.FullName, out var certificateFile, out var keyFile);
            await using var plain = await ServedTcp.StartAsync(model, []).ConfigureAwait(false);
            await using var tls = await ServedTcp.StartAsync(model,
                [$"--LstmStream:Tcp:Tls:CertificateFile={certificateFile}", $"--LstmStream:Tcp:Tls:KeyFile={keyFile}"]).ConfigureAwait(false);
            var thumbprint = certificate.GetCertHashString();

            var clock = Stopwatch.StartNew();
            do
            {
                await OnceAsync(plain.Endpoint, null, input, records).ConfigureAwait(false);
                await OnceAsync(tls.Endpoint, thumbprint, input, records).ConfigureAwait(false);
            }
            while (clock.Elapsed < WarmUp);

            var plainSamples = new List<double>();
            var tlsSamples = new List<double>();
            var cipher = "";
            long plainAllocated = 0, tlsAllocated = 0;
            for (var r = 0; r < repetitions; r++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                plainSamples.Add((await OnceAsync(plain.Endpoint, null, input, records).ConfigureAwait(false)).RecordsPerSecond);
                var between = GC.GetTotalAllocatedBytes(precise: true);
                var secured = await OnceAsync(tls.Endpoint, thumbprint, input, records).ConfigureAwait(false);
                tlsAllocated += GC.GetTotalAllocatedBytes(precise: true) - between;
                plainAllocated += between - before;
                tlsSamples.Add(secured.RecordsPerSecond);
                cipher = secured.Cipher;
                progress.WriteLine($"tcp throughput {workload.Name}: repetition {r + 1} of {repetitions}: plaintext {plainSamples[^1]:N0}, TLS {tlsSamples[^1]:N0} records/s " +
                                   $"(load average {MachineInfo.LoadAverage()})");
            }

            double processed = (double)records * repetitions;
            return new Result(workload.Name, records, NdjsonInputFile.Keys, Median(plainSamples), Median(tlsSamples), cipher, plainSamples, tlsSamples,
                plainAllocated / processed, tlsAllocated / processed);
        }
        finally
        {
            files.Delete(recursive: true);
        }
    }

    private static double Median(List<double> samples) => samples.Order().ElementAt(samples.Count / 2);

    /// <summary>Sends <paramref name="input"/> on a new connection while reading its outputs; returns records/s and the TLS cipher suite.</summary>
    private static async Task<(double RecordsPerSecond, string Cipher)> OnceAsync(IPEndPoint endpoint, string? tlsThumbprint, byte[] input, long records)
    {
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(endpoint).ConfigureAwait(false);
        Stream stream = client.GetStream();
        var cipher = "plaintext";
        if (tlsThumbprint is not null)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == tlsThumbprint,
            }).ConfigureAwait(false);
            cipher = $"{ssl.SslProtocol} {ssl.NegotiatedCipherSuite}";
            stream = ssl;
        }

        await using (stream.ConfigureAwait(false))
        {
            var clock = Stopwatch.StartNew();
            var reading = CountOutputsAsync(stream, records);
            for (var offset = 0; offset < input.Length; offset += ChunkBytes)
                await stream.WriteAsync(input.AsMemory(offset, Math.Min(ChunkBytes, input.Length - offset))).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
            var (lines, errors) = await reading.ConfigureAwait(false);
            var seconds = clock.Elapsed.TotalSeconds;
            if (errors > 0) throw new InvalidOperationException($"tcp throughput: {errors} error records among the outputs");
            if (lines != records) throw new InvalidOperationException($"tcp throughput: {lines} outputs for {records} records");
            return (records / seconds, cipher);
        }
    }

    /// <summary>Reads until <paramref name="records"/> lines have come; counts those that are error records.</summary>
    private static async Task<(long Lines, long Errors)> CountOutputsAsync(Stream stream, long records)
    {
        var buffer = new byte[ChunkBytes];
        long lines = 0, errors = 0;
        var lineStart = true;
        while (lines < records)
        {
            var read = await stream.ReadAsync(buffer).ConfigureAwait(false);
            if (read == 0) break;
            var chunk = buffer.AsSpan(0, read);
            for (var i = 0; i < chunk.Length; i++)
            {
                // An error record starts {"error" while an output starts {"key": the second byte of a line tells them apart.
                if (lineStart && chunk[i] == (byte)'{' && i + 2 < chunk.Length && chunk[i + 2] == (byte)'e') errors++;
                lineStart = chunk[i] == (byte)'\n';
                if (lineStart) lines++;
            }
        }

        return (lines, errors);
    }

    /// <summary>A self-signed ECDSA P-256 server certificate for localhost, written as PEM certificate and key files.</summary>
    private static X509Certificate2 SelfSigned(string directory, out string certificateFile, out string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        certificateFile = Path.Combine(directory, "server.pem");
        keyFile = Path.Combine(directory, "server.key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    /// <summary>One <c>serve</c> host in this process with its TCP listener on a free loopback port, nothing else.</summary>
    private sealed class ServedTcp : IAsyncDisposable
    {
        private readonly Task<int> _run;
        private readonly CancellationTokenSource _stop;

        private ServedTcp(Task<int> run, CancellationTokenSource stop, IPEndPoint endpoint)
        {
            _run = run;
            _stop = stop;
            Endpoint = endpoint;
        }

        public IPEndPoint Endpoint { get; }

        public static async Task<ServedTcp> StartAsync(string model, string[] settings)
        {
            string[] args =
            [
                $"--LstmStream:Model:Path={model}", "--LstmStream:Math:Backend=auto", "--LstmStream:Math:Threads=1",
                "--LstmStream:Batch:MaxRows=1024", "--LstmStream:Simulator:Enabled=false", "--LstmStream:Http:Enabled=false",
                "--LstmStream:Tcp:Endpoint=127.0.0.1:0", "--LstmStream:Tcp:MaxInFlightRecords=8192", "--LstmStream:StatisticsInterval=00:00:00",
                // No session store: each repetition sends the same seq again (with a store all but the first would be
                // answered as duplicates, not stepped), and commit records would be counted as outputs.
                "--LstmStream:Sessions:Store=none",
                .. settings,
            ];
            var errors = new StringWriter();
            var stop = new CancellationTokenSource();
            var started = new TaskCompletionSource<WebApplication>(TaskCreationOptions.RunContinuationsAsynchronously);
            var run = Task.Run(() => ServiceRunner.RunAsync(args, errors, stop.Token,
                builder => builder.Logging.AddFilter("LstmStream", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning), app => started.TrySetResult(app)));
            if (await Task.WhenAny(run, started.Task).ConfigureAwait(false) == run)
                throw new InvalidOperationException($"serve did not start (exit {await run.ConfigureAwait(false)}): {errors}");
            var app = await started.Task.ConfigureAwait(false);
            return new ServedTcp(run, stop, app.Services.GetRequiredService<TcpIngress>().LocalEndpoint!);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _run.ConfigureAwait(false);
            _stop.Dispose();
        }
    }
}
