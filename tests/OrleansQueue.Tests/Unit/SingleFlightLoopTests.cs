using OrleansQueue.Internal;

namespace OrleansQueue.Tests.Unit;

/// <summary>The single-flight background loop of a grain activation, without a cluster.</summary>
public sealed class SingleFlightLoopTests
{
    /// <summary>A loop whose passes wait on a gate the test opens, counting passes per generation.</summary>
    private sealed class Probe
    {
        public int Generation;
        public bool Work = true;
        public readonly List<int> Passes = [];
        public readonly List<Exception> Failures = [];
        public int Stops;
        public TaskCompletionSource Gate = new();
        public Func<int, Task>? Body;

        public SingleFlightLoop Create(bool withStop = true) => new(
            generation => Body is { } body ? body(generation) : PassAsync(generation),
            () => Generation,
            () => Work,
            Failures.Add,
            withStop ? () => Stops++ : null);

        private async Task PassAsync(int generation)
        {
            Passes.Add(generation);
            await Gate.Task;
        }

        public void Open()
        {
            var gate = Gate;
            Gate = new TaskCompletionSource();
            gate.SetResult();
        }
    }

    [Fact]
    public async Task Start_RunsOnce_WhileRunning_AndAgainAfterItEnded()
    {
        var probe = new Probe();
        var loop = probe.Create();
        loop.Start();
        loop.Start(); // running: nothing more
        Assert.True(loop.IsRunning);
        Assert.Single(probe.Passes);

        probe.Open();
        await loop.Completion;
        Assert.False(loop.IsRunning);
        Assert.Single(probe.Passes); // a start while running does not make it go round again
        Assert.Equal(1, probe.Stops);

        loop.Start();
        probe.Open();
        await loop.Completion;
        Assert.Equal(2, probe.Passes.Count);
        Assert.Equal(2, probe.Stops);
    }

    [Fact]
    public async Task Signal_WhileRunning_GoesRoundOnceMore_UnlessTheWorkIsDone()
    {
        var probe = new Probe();
        var loop = probe.Create();
        loop.Signal();
        loop.Signal();
        loop.Signal(); // several signals while running: one more pass
        probe.Open();
        await Until(() => probe.Passes.Count == 2);
        probe.Open();
        await loop.Completion;
        Assert.Equal(2, probe.Passes.Count);
        Assert.Equal(1, probe.Stops);

        loop.Signal();
        loop.Signal();
        probe.Work = false; // done meanwhile: no second pass
        probe.Open();
        await loop.Completion;
        Assert.Equal(3, probe.Passes.Count);
    }

    [Fact]
    public void NothingToDo_StartsNothing()
    {
        var probe = new Probe { Work = false };
        var loop = probe.Create();
        loop.Start();
        loop.Signal();
        Assert.False(loop.IsRunning);
        Assert.Empty(probe.Passes);
        Assert.Equal(0, probe.Stops);
    }

    [Fact]
    public async Task AfterTheGenerationChanged_AResetLoopStartsAnew_AndTheOldRunTouchesNothing()
    {
        var probe = new Probe();
        var loop = probe.Create();
        loop.Signal();
        var oldRun = loop.Completion;
        var oldGate = probe.Gate;

        probe.Generation++; // the activation dropped its state
        loop.Reset();
        probe.Gate = new TaskCompletionSource();
        loop.Start();
        Assert.True(loop.IsRunning);
        Assert.Equal([0, 1], probe.Passes);

        loop.Signal(); // meant for the new run
        oldGate.SetResult(); // the old run ends: it neither goes round again nor clears the new run's state
        await oldRun;
        Assert.True(loop.IsRunning);
        Assert.Equal(0, probe.Stops);
        Assert.Equal([0, 1], probe.Passes);

        probe.Open();
        await Until(() => probe.Passes.Count == 3); // the signal went to the new run
        probe.Open();
        await loop.Completion;
        Assert.Equal([0, 1, 1], probe.Passes);
        Assert.Equal(1, probe.Stops);
    }

    [Fact]
    public async Task AnExceptionEndsTheRun_IsReported_AndNeverFaultsItsTask()
    {
        var probe = new Probe();
        var loop = probe.Create();
        var gate = new TaskCompletionSource();
        probe.Body = async _ =>
        {
            await gate.Task;
            throw new InvalidOperationException("boom");
        };
        loop.Signal();
        loop.Signal(); // the exception ends the run: it does not go round again
        gate.SetResult();
        await loop.Completion; // does not throw
        Assert.Equal("boom", Assert.Single(probe.Failures).Message);
        Assert.False(loop.IsRunning);
        Assert.Equal(1, probe.Stops);

        probe.Body = _ => throw new ArgumentException("synchronous"); // thrown before any task exists
        loop.Start();
        await loop.Completion;
        Assert.Equal(2, probe.Failures.Count);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public async Task AFailingHandler_DoesNotFaultTheRun()
    {
        var loop = new SingleFlightLoop(_ => throw new InvalidOperationException("body"), () => 0, () => true,
            _ => throw new InvalidOperationException("handler"), () => throw new InvalidOperationException("stopped"));
        loop.Start();
        await loop.Completion;
        Assert.False(loop.IsRunning);
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The loop did not reach the expected state within 10 s.");
            await Task.Yield();
        }
    }
}
