using OrleansQueue.Push;
using OrleansQueue.Storage;

namespace OrleansQueue.Tests.Unit;

/// <summary>Competing consumers' credit, without a cluster.</summary>
public sealed class ConsumerCreditTests
{
    private static ConsumerState Consumer(string name, int prefetch) =>
        new(new SubscriptionRecord { Consumer = name, Prefetch = prefetch }, null!, null!);

    [Fact]
    public void Take_GoesRoundRobin_OverConsumersWithCredit_AndStopsWhenItRunsOut()
    {
        var credit = new ConsumerCredit();
        ConsumerState a = Consumer("a", 2), b = Consumer("b", 1), c = Consumer("c", 0);
        var chosen = credit.Take([a, b, c], 10);
        Assert.Equal(["a", "b", "a"], chosen.Select(s => s.Record.Consumer));
        Assert.Equal(2, a.Reserved);
        Assert.Equal(1, b.Reserved);
        Assert.Empty(credit.Take([a, b, c], 1));
    }

    [Fact]
    public void Return_GivesBackTheCreditNotUsed_AndDropsThoseConsumers()
    {
        var credit = new ConsumerCredit();
        ConsumerState a = Consumer("a", 5), b = Consumer("b", 5);
        var chosen = credit.Take([a, b], 4);
        ConsumerCredit.Return(chosen, used: 1);
        Assert.Single(chosen);
        Assert.Equal(1, a.Reserved + b.Reserved);
        ConsumerCredit.Return(chosen, used: 1); // all used: nothing changes
        Assert.Single(chosen);
    }
}
