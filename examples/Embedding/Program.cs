// A program that already runs Akka.Streams puts an LSTM model into its own graph:
// a Source of sensor readings → the LSTM flow (state per sensor kept inside it) → a Sink.
// Usage: dotnet run -- MODEL_FILE   (e.g. models/demo.onnx of the LstmStream repository)
using System.Globalization;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LstmStream.Pipeline.Flows;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Embedding MODEL_FILE");
    return 2;
}

using var system = ActorSystem.Create("embedding", "akka.loglevel = WARNING");
var materializer = system.Materializer();

// The model and the options, once: `auto` picks each layer's fastest backend present on this machine.
using var engine = LstmEngine.Load(new LstmEngineOptions { ModelPath = args[0], Backend = "auto" });
int inputs = engine.Model.InputSize;
Console.WriteLine($"model: {inputs} inputs, {engine.Model.OutputSize} outputs");

// Three sensors, four readings each, interleaved; then a reading with one value only (rejected, the rest goes on).
var readings = Enumerable.Range(0, 12)
    .Select(i => new Reading($"sensor-{i % 3}", i / 3, SensorValues(inputs, i)))
    .Append(new Reading("sensor-1", 99, [1f]));

var (handle, done) = Source.From(readings)
    .Select(r => new LstmStep(r.Sensor, r.Values, r.Seq))
    .ViaMaterialized(LstmFlow.Create(engine), Keep.Right)
    .ToMaterialized(Sink.ForEach<LstmResult>(Print), Keep.Both)
    .Run(materializer);
await done;

var sessions = handle.Sessions.Snapshot();
Console.WriteLine($"steps {handle.Steps.Received}, outputs {handle.Steps.Outputs}, rejected {handle.Steps.Rejected}, live keys {sessions.LiveKeys}");
await system.Terminate();
return 0;

static void Print(LstmResult result)
{
    switch (result)
    {
        case LstmOutput output:
            Console.WriteLine($"output {output.Key} {output.Seq} {string.Join(' ', output.Y.Select(y => y.ToString("R", CultureInfo.InvariantCulture)))}");
            break;
        case LstmStepRejected rejected:
            Console.WriteLine($"rejected {rejected}");
            break;
    }
}

static float[] SensorValues(int count, int reading) =>
    Enumerable.Range(0, count).Select(j => MathF.Sin(0.3f * reading + j)).ToArray();

internal sealed record Reading(string Sensor, long Seq, float[] Values);
