using LstmStream.Pipeline.Numerics;

namespace LstmStream.Tests.Numerics;

/// <summary>The worker set that splits a multiply or a fused layer step: parts, claims, failures.</summary>
public class GemmWorkersTests
{
    private sealed class CountingJob(int parts) : IParallelJob
    {
        public readonly int[] Runs = new int[parts];

        public void RunPart(int part)
        {
            Interlocked.Increment(ref Runs[part]);
            Thread.SpinWait(200 * (part % 3));
        }
    }

    [Fact]
    public void Every_part_runs_exactly_once_whatever_the_part_count()
    {
        using var workers = new GemmWorkers(2);
        Assert.Equal(3, workers.Threads);
        // Part counts vary from job to job, so a worker that wakes late must never claim a part of the next job twice.
        for (var round = 0; round < 400; round++)
        {
            var parts = 1 + round % 17;
            var job = new CountingJob(parts);
            Assert.True(workers.TryBegin());
            workers.RunAndEnd(job, parts);
            Assert.All(job.Runs, runs => Assert.Equal(1, runs));
        }
    }

    [Fact]
    public void The_claim_is_not_reentrant_and_is_released_after_a_failure()
    {
        using var workers = new GemmWorkers(1);
        var nested = new List<bool>();
        var job = new DelegateJob(part =>
        {
            lock (nested) nested.Add(workers.TryBegin());
        });
        Assert.True(workers.TryBegin());
        Assert.False(workers.TryBegin());
        workers.RunAndEnd(job, 4);
        Assert.Equal(4, nested.Count);
        Assert.DoesNotContain(true, nested);

        var failing = new DelegateJob(part =>
        {
            if (part == 2) throw new InvalidOperationException("part 2 broke");
        });
        Assert.True(workers.TryBegin());
        var e = Assert.Throws<InvalidOperationException>(() => workers.RunAndEnd(failing, 5));
        Assert.Equal("part 2 broke", e.InnerException!.Message);
        Assert.True(workers.TryBegin());
        workers.RunAndEnd(new DelegateJob(_ => { }), 1);
    }

    [Fact]
    public void A_disposed_worker_set_refuses_new_jobs()
    {
        var workers = new GemmWorkers(1);
        workers.Dispose();
        Assert.False(workers.TryBegin());
        workers.Dispose();
    }

    private sealed class DelegateJob(Action<int> run) : IParallelJob
    {
        public void RunPart(int part) => run(part);
    }
}
