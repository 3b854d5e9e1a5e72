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

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(30)]
    public void A_polling_or_sleeping_worker_takes_part_in_the_next_job(int idleMilliseconds)
    {
        // A part run by the caller waits until a part has started on another thread, which only a worker can be: each
        // job proves a worker woke for it — right after the last job (polling), or after it has gone to sleep on its
        // semaphore (idle longer than its 2 ms of polling).
        using var workers = new GemmWorkers(1);
        for (var round = 0; round < 20; round++)
        {
            if (idleMilliseconds > 0) Thread.Sleep(idleMilliseconds);
            var callerThread = Environment.CurrentManagedThreadId;
            var otherStarted = new ManualResetEventSlim(false);
            var job = new DelegateJob(_ =>
            {
                if (Environment.CurrentManagedThreadId == callerThread) otherStarted.Wait(TimeSpan.FromSeconds(10));
                else otherStarted.Set();
            });
            Assert.True(workers.TryBegin());
            workers.RunAndEnd(job, 2);
            Assert.True(otherStarted.IsSet, $"round {round}, idle {idleMilliseconds} ms: no worker took part");
        }
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
