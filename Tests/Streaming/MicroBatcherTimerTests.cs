using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit;
using LstmStream.Pipeline.Streaming;
using static LstmStream.Tests.Streaming.StreamingTestData;

namespace LstmStream.Tests.Streaming;

/// <summary>
/// The micro-batcher's delay timer on TestKit's fake clock (<see cref="TestScheduler"/>): time passes only when the
/// test moves it, so "not before the delay" and "at the delay" are exact.
/// </summary>
public sealed class MicroBatcherTimerTests : Akka.TestKit.Xunit2.TestKit
{
    private const int Width = 3;
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly IMaterializer _materializer;

    public MicroBatcherTimerTests() : base("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"") =>
        _materializer = Sys.Materializer();

    private TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    private static StepBatch Fragment(params string[] keys) =>
        StreamingTestData.Fragment(keys.Select((k, i) => new TestStep(k, i, [i, i, i], StepFlags.None, i)), Width);

    private static string Keys(StepBatch batch) => string.Join(",", Drain(batch, 0).Select(o => o.Key));

    [Fact]
    public async Task The_delay_timer_emits_a_partial_batch_from_a_slow_source_at_the_delay_and_not_before()
    {
        // The batcher pulls its next fragment only after it has put the previous one in the open batch (and armed
        // the timer for a new one): seeing a fragment go in is the signal that the one before it is batched.
        var seen = new System.Collections.Concurrent.BlockingCollection<string>();
        var (source, sink) = this.SourceProbe<StepBatch>()
            .Select(f =>
            {
                seen.Add(f.Keys[0]);
                return f;
            })
            .Via(new MicroBatcher(100, Delay, Width))
            .ToMaterialized(this.SinkProbe<StepBatch>(), Keep.Both)
            .Run(_materializer);
        async Task SendAndSee(StepBatch fragment)
        {
            var key = fragment.Keys[0];
            await source.SendNextAsync(fragment);
            Assert.True(seen.TryTake(out var got, Timeout) && got == key, $"fragment {key} did not reach the batcher");
        }

        await sink.RequestAsync(10);
        await SendAndSee(Fragment("a", "b"));
        await SendAndSee(Fragment("c")); // a, b batched: the timer runs from now
        Clock.Advance(Delay - TimeSpan.FromMilliseconds(1));
        // Had the timer fired early, d would start a batch of its own. The timer's message follows d's in the
        // stage's mailbox, so d is batched first.
        await SendAndSee(Fragment("d"));
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("a,b,c,d", Keys(await sink.ExpectNextAsync(Timeout)));

        // The source is still open: the next rows start a new batch with its own timer.
        await SendAndSee(Fragment("e"));
        await SendAndSee(Fragment("f"));
        Clock.Advance(Delay);
        Assert.Equal("e,f", Keys(await sink.ExpectNextAsync(Timeout)));
        await source.SendCompleteAsync();
        await sink.ExpectCompleteAsync();
    }
}
