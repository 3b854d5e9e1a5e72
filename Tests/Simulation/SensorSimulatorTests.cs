using System.Buffers;
using System.Text;
using System.Text.Json;
using LstmStream.Hosting.Simulation;

namespace LstmStream.Tests.Simulation;

public sealed class SensorSimulatorTests
{
    [Fact]
    public void Each_sensor_counts_its_seq_from_FirstSeq_and_the_readings_do_not_depend_on_it()
    {
        var plain = Records(new SensorSimulatorSettings { Keys = 3, Features = 2, Seed = 11 }, 12);
        var shifted = Records(new SensorSimulatorSettings { Keys = 3, Features = 2, Seed = 11, FirstSeq = 1_765_000_000_000_000 }, 12);

        for (var i = 0; i < plain.Count; i++)
        {
            Assert.Equal(plain[i].Key, shifted[i].Key);
            Assert.Equal(i / 3, plain[i].Seq);
            Assert.Equal(1_765_000_000_000_000 + i / 3, shifted[i].Seq);
            Assert.Equal(plain[i].X, shifted[i].X);
        }
    }

    [Fact]
    public void A_negative_FirstSeq_is_refused_naming_it()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SensorSimulator(new SensorSimulatorSettings { FirstSeq = -1 }));
        Assert.Equal("FirstSeq", e.ParamName);
    }

    private static List<(string Key, long Seq, string X)> Records(SensorSimulatorSettings settings, int count)
    {
        var simulator = new SensorSimulator(settings);
        var output = new ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++) simulator.WriteNext(output);
        return Encoding.UTF8.GetString(output.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(r => (r.GetProperty("key").GetString()!, r.GetProperty("seq").GetInt64(), r.GetProperty("x").GetRawText()))
            .ToList();
    }
}
