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

    /// <summary>
    /// Builds, starts and runs the host until it is stopped (SIGTERM, Ctrl-C, <paramref name="cancellationToken"/>).
    /// Returns 0 after a graceful stop, 1 when records were lost (pipeline failure, shutdown deadline), and
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

            started?.Invoke(app);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return app.Services.GetRequiredService<ServiceRuntime>().ExitCode;
        }
    }
}
