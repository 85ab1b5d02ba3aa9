using OrleansQueue.Appending;

namespace OrleansQueue.Tests.Unit;

/// <summary>The duplicate-detection index alone: its key, its window and its cap.</summary>
public sealed class DuplicateIndexTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DedupHash_IsStable_DistinctForDistinctIds_AndHandlesLongIds()
    {
        Assert.Equal(DuplicateIndex.Hash("order-17"), DuplicateIndex.Hash(new string("order-17".ToCharArray())));
        var keys = Enumerable.Range(0, 200_000).Select(i => DuplicateIndex.Hash($"m{i}")).ToHashSet();
        Assert.Equal(200_000, keys.Count);
        Assert.NotEqual(DuplicateIndex.Hash("é"), DuplicateIndex.Hash("e\u0301")); // different UTF-8, different key
        var longId = new string('x', 5000); // past the stack buffer
        Assert.Equal(DuplicateIndex.Hash(longId), DuplicateIndex.Hash(longId + ""));
        Assert.NotEqual(DuplicateIndex.Hash(longId), DuplicateIndex.Hash(longId[..^1] + "y"));
    }

    [Fact]
    public void RemembersWithinTheWindow_ForgetsPastIt_AndKeepsTheNewestUpToTheCap()
    {
        var index = new DuplicateIndex(TimeSpan.FromMinutes(10), maxIds: 3);
        index.Remember(DuplicateIndex.Hash("a"), 1, T0);
        index.Remember(DuplicateIndex.Hash("b"), 2, T0 + TimeSpan.FromMinutes(5));
        Assert.True(index.TryGet("a", out var a) && a == 1);

        index.Trim(T0 + TimeSpan.FromMinutes(11)); // "a" is past the window, "b" is not
        Assert.False(index.TryGet("a", out _));
        Assert.True(index.TryGet("b", out _));

        index.Remember(DuplicateIndex.Hash("c"), 3, T0 + TimeSpan.FromMinutes(6));
        index.Remember(DuplicateIndex.Hash("d"), 4, T0 + TimeSpan.FromMinutes(6));
        index.Remember(DuplicateIndex.Hash("e"), 5, T0 + TimeSpan.FromMinutes(6)); // the cap keeps the newest 3
        Assert.False(index.TryGet("b", out _));
        Assert.Equal(3, index.Count);
    }

    [Fact]
    public void AnIdSentAgainAfterItsWindow_KeepsItsNewerEntry_WhenTheOldOneIsForgotten()
    {
        var index = new DuplicateIndex(TimeSpan.FromMinutes(10), maxIds: 100);
        index.Remember(DuplicateIndex.Hash("a"), 1, T0);
        index.Remember(DuplicateIndex.Hash("a"), 7, T0 + TimeSpan.FromMinutes(20));
        index.Trim(T0 + TimeSpan.FromMinutes(15)); // drops the first entry's place in line, not the newer entry
        Assert.True(index.TryGet("a", out var seq) && seq == 7);
    }

    [Fact]
    public void AZeroWindow_RemembersNothing()
    {
        var index = new DuplicateIndex(TimeSpan.Zero, maxIds: 100);
        index.Remember(DuplicateIndex.Hash("a"), 1, T0);
        Assert.False(index.Enabled);
        Assert.False(index.TryGet("a", out _));
    }
}
