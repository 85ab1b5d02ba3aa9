using OrleansQueue.Queues;

namespace OrleansQueue.Tests.Unit;

public sealed class CommitPumpTests
{
    [Fact]
    public async Task ConcurrentCommits_ShareWrites_AndEachWaitsForAWriteThatStartedAfterIt()
    {
        var writes = 0;
        var gate = new TaskCompletionSource();
        var pump = new CommitPump(async () =>
        {
            writes++;
            await gate.Task;
        }, _ => { });

        var first = pump.CommitAsync();   // starts write 1
        var others = Enumerable.Range(0, 50).Select(_ => pump.CommitAsync()).ToArray(); // wait for write 2
        Assert.Equal(1, writes);
        gate.SetResult();
        await first;
        await Task.WhenAll(others);
        Assert.Equal(2, writes);
    }

    [Fact]
    public async Task CommitSoon_WaitsForTheLinger_SharingOneWrite_UnlessAnUrgentCommitCutsItShort()
    {
        var writes = 0;
        var pump = new CommitPump(() =>
        {
            writes++;
            return Task.CompletedTask;
        }, _ => { }, linger: TimeSpan.FromHours(1));

        var soon = Enumerable.Range(0, 10).Select(_ => pump.CommitSoonAsync()).ToArray();
        await Task.Delay(50);
        Assert.Equal(0, writes); // still lingering
        Assert.All(soon, t => Assert.False(t.IsCompleted));

        await pump.CommitAsync(); // someone waits: the write starts now and releases everybody
        await Task.WhenAll(soon);
        Assert.Equal(1, writes);

        var lingered = new CommitPump(() =>
        {
            writes++;
            return Task.CompletedTask;
        }, _ => { }, linger: TimeSpan.FromMilliseconds(20));
        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => lingered.CommitSoonAsync()));
        Assert.Equal(2, writes); // ten changes within the linger: one write
    }

    [Fact]
    public async Task AnUrgentCommit_DuringARunningWrite_IsWrittenRightAfterIt()
    {
        var writes = 0;
        var gate = new TaskCompletionSource();
        var pump = new CommitPump(async () =>
        {
            writes++;
            await gate.Task;
        }, _ => { }, linger: TimeSpan.FromHours(1));

        var first = pump.CommitAsync();
        var soon = pump.CommitSoonAsync();
        var second = pump.CommitAsync(); // waits for a write that starts after it, with no linger
        gate.SetResult();
        await Task.WhenAll(first, soon, second);
        Assert.Equal(2, writes);
    }

    [Fact]
    public async Task AFailedWrite_FailsEveryWaiter_AndEveryLaterCommit()
    {
        var failures = new List<Exception>();
        var gate = new TaskCompletionSource();
        var pump = new CommitPump(async () =>
        {
            await gate.Task;
            throw new InvalidOperationException("disk on fire");
        }, failures.Add);

        var waiters = Enumerable.Range(0, 5).Select(_ => pump.CommitAsync()).ToArray();
        gate.SetResult();
        foreach (var waiter in waiters)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => waiter);
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => pump.CommitAsync());
        Assert.Single(failures);
    }
}
