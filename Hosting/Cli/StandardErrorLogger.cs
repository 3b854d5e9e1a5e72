using Akka.Actor;
using Akka.Event;

namespace LstmStream.Hosting.Cli;

/// <summary>
/// Akka's log sink for the batch verbs: stdout carries the NDJSON output, so Akka's own warnings and
/// errors go to stderr instead.
/// </summary>
public sealed class StandardErrorLogger : ReceiveActor
{
    public StandardErrorLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Console.Error.WriteLine($"[{e.LogLevel()}] {e.LogSource}: {e.Message}{(e.Cause is null ? "" : " " + e.Cause.Message)}"));
    }

    /// <summary>The HOCON that routes Akka's logging here at <paramref name="level"/>.</summary>
    public static string Configuration(string level = "WARNING") => $$"""
        akka {
          loglevel = {{level}}
          stdout-loglevel = OFF
          loggers = ["{{typeof(StandardErrorLogger).AssemblyQualifiedName}}"]
        }
        """;
}
