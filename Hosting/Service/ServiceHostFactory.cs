using Akka.Hosting;
using LstmStream.Actors.Cluster;
using LstmStream.Actors.Persistence;
using LstmStream.Actors.Pipelines;
using LstmStream.Hosting.Channels;
using LstmStream.Hosting.Channels.Mqtt;
using LstmStream.Hosting.Operations;
using LstmStream.Hosting.Options;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace LstmStream.Hosting.Service;

/// <summary>
/// Builds the <c>serve</c> host: settings (appsettings.json and appsettings.{Environment}.json beside the
/// executable, environment variables, command-line overrides such as <c>--LstmStream:Tcp:Endpoint=…</c>) bound
/// to <see cref="ServiceOptions"/> and validated, Akka.Hosting with the pipeline's owner actor, the pipeline hub,
/// the ingresses, metrics, the loopback HTTP endpoints and systemd integration. Logs go to stderr (stdout may carry records).
/// </summary>
public static class ServiceHostFactory
{
    /// <param name="args">Configuration overrides (<c>--Section:Key=value</c>).</param>
    /// <param name="customize">Applied to the builder before the settings are read (tests add settings or loggers).</param>
    /// <exception cref="OptionsValidationException">A setting is invalid; each failure names its key.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        customize?.Invoke(builder);
        // Under systemd (Type=notify): READY=1 once every hosted service has started (pipeline up, ports bound),
        // STOPPING=1 when the drain begins, SIGTERM handled by the systemd lifetime, and log lines in the
        // journal's format (<priority>category[event] message). Elsewhere it changes nothing.
        builder.Services.AddSystemd();

        var options = ReadAndCheck(builder.Configuration, builder.Environment.ContentRootPath);

        builder.Services.AddOptions<ServiceOptions>().Bind(builder.Configuration.GetSection(ServiceOptions.SectionName)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ServiceOptions>>(new ServiceOptionsValidator(builder.Environment.ContentRootPath));
        // The drain has its own deadline; the host waits a little longer so that Akka can terminate after it.
        // Cluster mode: the node also hands its buckets off and leaves, then completes its pipeline (a deadline each).
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.Cluster.Enabled
            ? 2 * options.Shutdown.Deadline + options.Cluster.HandOffTimeout + TimeSpan.FromSeconds(30)
            : options.Shutdown.Deadline + TimeSpan.FromSeconds(5));

        var store = options.Sessions.StoreLocation();
        // Akka.Hosting first: hosted services stop in reverse order, so the actor system outlives the drain.
        builder.Services.AddAkka(ClusterSettings.SystemName, (akka, services) =>
        {
            akka
            .ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = Akka.Event.LogLevel.WarningLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .AddHocon(
                $"akka.coordinated-shutdown.phases.service-requests-done.timeout = {(int)Math.Ceiling(options.Shutdown.Deadline.TotalSeconds) + 1}s",
                HoconAddMode.Prepend)
            .AddHocon(store.Kind == SessionStoreKind.None ? Akka.Configuration.Config.Empty : SessionStoreConfig.For(store), HoconAddMode.Prepend)
            .WithActors((system, registry) =>
            {
                registry.Register<PipelineOwnerActor>(system.ActorOf(PipelineOwnerActor.Props(), "pipeline"));
                // Durable sessions: the store's buckets, started on demand (LstmStream:Sessions:Store).
                if (store.Kind != SessionStoreKind.None)
                    registry.Register<BucketRegionActor>(system.ActorOf(BucketRegionActor.Props(options.Sessions.BucketIdleTimeout), "sessions-store"));
            });
            // Cluster mode: the buckets become sharded entities and records travel to their bucket's owner.
            if (options.Cluster.Enabled) akka.WithLstmStreamCluster(options, services);
        });

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ServiceMetrics>();
        builder.Services.AddSingleton<ChannelMetrics>();
        if (options.Cluster.Enabled)
        {
            builder.Services.AddSingleton(new LocalBuckets(options.Sessions.Buckets));
            builder.Services.AddSingleton<HandOffFigures>();
            builder.Services.AddSingleton<ClusterMetrics>();
            builder.Services.AddSingleton(sp => new PipelineHub(sp.GetRequiredService<ServiceMetrics>(), sp.GetRequiredService<ChannelMetrics>(),
                sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>(),
                clusterMetrics: sp.GetRequiredService<ClusterMetrics>(), rounds: sp.GetRequiredService<CheckpointRounds>()));
        }
        else
        {
            builder.Services.AddSingleton<PipelineHub>();
        }

        builder.Services.AddSingleton<IChannelLoad>(sp => sp.GetRequiredService<PipelineHub>());
        // Ingresses, started in this order.
        if (options.Tcp.Enabled)
        {
            builder.Services.AddSingleton<TcpIngress>();
            builder.Services.AddSingleton<IIngress>(sp => sp.GetRequiredService<TcpIngress>());
        }

        if (options.Console.Enabled) builder.Services.AddSingleton<IIngress, ConsoleIngress>();
        if (options.Simulator.Enabled) builder.Services.AddSingleton<IIngress, SimulatorIngress>();
        if (options.Mqtt.Enabled) builder.Services.AddSingleton<IIngress, MqttIngress>();
        // Checkpoint numbering: MQTT acknowledges and TCP commits only what a written checkpoint covers.
        builder.Services.AddSingleton(new CheckpointRounds(active: store.Kind != SessionStoreKind.None));
        builder.Services.AddSingleton<SessionStoreService>();
        builder.Services.AddSingleton<ISessionStoreAccess>(sp => sp.GetRequiredService<SessionStoreService>());
        builder.Services.AddSingleton<ServiceRuntime>();
        builder.Services.AddSingleton<IServiceHealth>(sp => sp.GetRequiredService<ServiceRuntime>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ServiceRuntime>());

        if (options.Http.Enabled)
        {
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService("lstmstream"))
                .WithMetrics(metrics => metrics
                .AddMeter(ServiceMetrics.MeterName)
                .AddPrometheusExporter());
            var endpoint = HostPort.Parse(options.Http.Endpoint);
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(endpoint));
        }
        else
        {
            builder.Services.AddSingleton<IServer, NoHttpServer>();
        }

        var app = builder.Build();
        var runtime = app.Services.GetRequiredService<ServiceRuntime>();
        app.Services.GetRequiredService<ServiceMetrics>().AttachHealth(() => runtime.IsHealthy);
        if (options.Http.Enabled)
        {
            app.MapPrometheusScrapingEndpoint("/metrics");
            OperationsEndpoints.Map(app, options.Http.ReadAdminToken(out _), options.Cluster.Shards, options.Sessions.Buckets);
        }

        return app;
    }

    /// <summary>Binds and validates the settings; throws <see cref="OptionsValidationException"/> naming every bad key.</summary>
    public static ServiceOptions ReadAndCheck(IConfiguration configuration, string contentRoot)
    {
        ServiceOptions options;
        try
        {
            options = configuration.GetSection(ServiceOptions.SectionName).Get<ServiceOptions>() ?? new ServiceOptions();
        }
        catch (InvalidOperationException e)
        {
            // "Failed to convert configuration value '…' at 'LstmStream:Batch:MaxRows' to type 'System.Int32'."
            throw new OptionsValidationException(ServiceOptions.SectionName, typeof(ServiceOptions), [e.Message]);
        }

        var failures = new ServiceOptionsValidator(contentRoot).Check(options);
        // A setting of an earlier version that would otherwise be ignored without a word.
        if (configuration[$"{ServiceOptions.SectionName}:Tcp:MaxLineBytes"] is not null)
            failures.Add($"{ServiceOptions.SectionName}:Tcp:MaxLineBytes: is replaced by {ServiceOptions.SectionName}:Limits:MaxLineBytes, one limit for every channel");
        if (failures.Count > 0) throw new OptionsValidationException(ServiceOptions.SectionName, typeof(ServiceOptions), failures);
        return options;
    }
}
