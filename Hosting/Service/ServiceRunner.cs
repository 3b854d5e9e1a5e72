using LstmStream.Hosting.Options;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LstmStream.Hosting.Service;

/// <summary>Runs the <c>serve</c> host to the end and turns its outcome into an exit code.</summary>
public static class ServiceRunner
{
    /// <summary>Exit code when a setting is invalid or the service cannot start.</summary>
    public const int StartFailed = 2;

    /// <summary>How long the parts that did start get to stop when a stop is requested before the service is ready.</summary>
    private static readonly TimeSpan StopWhileStartingTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Builds, starts and runs the host until it is stopped (SIGTERM, Ctrl-C, <paramref name="cancellationToken"/>).
    /// Returns 0 after a graceful stop (also one requested before the service was ready, which a line on
    /// <paramref name="error"/> names), 1 when records were lost (pipeline failure, shutdown deadline), and
    /// <see cref="StartFailed"/> with one line per problem on <paramref name="error"/> when it cannot start.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter error, CancellationToken cancellationToken = default,
        Action<WebApplicationBuilder>? customize = null, Action<WebApplication>? started = null)
    {
        WebApplication app;
        try
        {
            app = ServiceHostFactory.Build(args, customize);
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures) await error.WriteLineAsync($"lstmstream serve: {failure}").ConfigureAwait(false);
            return StartFailed;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OptionsValidationException or ServiceStartException)
            {
                var lines = e is OptionsValidationException v ? v.Failures : [e.Message];
                foreach (var line in lines) await error.WriteLineAsync($"lstmstream serve: {line}").ConfigureAwait(false);
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await app.StopAsync(quick.Token).ConfigureAwait(false);
                return StartFailed;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                // SIGTERM or Ctrl-C before the service was ready: what did start stops as in a graceful stop (an ingress
                // already open is drained), and the exit code says whether that lost anything.
                await error.WriteLineAsync("lstmstream serve: stopped while starting (a stop was requested before the service was ready)")
                    .ConfigureAwait(false);
                using var quick = new CancellationTokenSource(StopWhileStartingTimeout);
                await app.StopAsync(quick.Token).ConfigureAwait(false);
                return app.Services.GetRequiredService<ServiceRuntime>().ExitCode;
            }

            started?.Invoke(app);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return app.Services.GetRequiredService<ServiceRuntime>().ExitCode;
        }
    }
}
