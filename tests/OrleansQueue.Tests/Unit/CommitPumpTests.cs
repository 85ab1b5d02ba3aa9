using OrleansQueue.Internal;

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
