using LstmStream.Hosting.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LstmStream.Tests.Service;

[Collection(ServiceHostCollection.Name)]
public sealed class StopWhileStartingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_stop_requested_before_the_service_is_ready_ends_it_with_a_line_saying_so_and_exit_code_0()
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var error = new StringWriter();
        // A hosted service registered after the runtime's waits until the stop: as SIGTERM does (the console lifetime
        // calls StopApplication), it asks the host to stop while the start is still under way.
        var run = ServiceRunner.RunAsync(
            [$"--LstmStream:Model:Path={RunningService.DemoModel}", "--LstmStream:Math:Backend=managed", "--LstmStream:Simulator:Enabled=false",
                "--LstmStream:Tcp:Endpoint=127.0.0.1:0", $"--LstmStream:Http:Endpoint=127.0.0.1:{RunningService.FreePort()}",
                "--LstmStream:Sessions:Store=none"],
            error,
            customize: builder => builder.Services.AddHostedService(sp => new StopDuringStart(sp.GetRequiredService<IHostApplicationLifetime>(), reached)));

        await reached.Task.WaitAsync(Timeout);
        var code = await run.WaitAsync(Timeout);

        Assert.Equal(0, code);
        Assert.Contains("lstmstream serve: stopped while starting", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", error.ToString(), StringComparison.Ordinal);
    }

    private sealed class StopDuringStart(IHostApplicationLifetime lifetime, TaskCompletionSource reached) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            reached.TrySetResult();
            lifetime.StopApplication();
            await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
