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

    [Theory]
    [InlineData(1, 5)]
    [InlineData(3, 20)]
    [InlineData(50, 40)]
    [InlineData(1000, 3000)]
    public void AgreesWithADictionaryAndAQueue_OverRandomRemembersTrimsAndRepeats(int maxIds, int distinctIds)
    {
        // The reference: what the index keeps, written the plain way.
        var bySeq = new Dictionary<UInt128, long>();
        var order = new Queue<(UInt128 Key, long Seq, long At)>();
        var window = TimeSpan.FromMinutes(10);
        var index = new DuplicateIndex(window, maxIds);
        var random = new Random(maxIds * 31 + distinctIds);
        var keys = Enumerable.Range(0, distinctIds).Select(i => DuplicateIndex.Hash($"id-{i}")).ToArray();
        var now = T0;
        for (var step = 0; step < 20_000; step++)
        {
            now += TimeSpan.FromMilliseconds(random.Next(0, 200));
            if (random.Next(10) == 0)
            {
                index.Trim(now);
                while (order.TryPeek(out var oldest) && oldest.At < (now - window).UtcTicks)
                {
                    Forget();
                }
            }
            else
            {
                var key = keys[random.Next(keys.Length)];
                index.Remember(key, step, now);
                bySeq[key] = step;
                order.Enqueue((key, step, now.UtcTicks));
                while (order.Count > maxIds)
                {
                    Forget();
                }
            }

            if (step % 97 == 0 || distinctIds <= 40)
            {
                Assert.Equal(bySeq.Count, index.Count);
                foreach (var key in keys)
                {
                    var expected = bySeq.TryGetValue(key, out var entry);
                    Assert.Equal(expected, index.TryGet(key, out var seq));
                    Assert.Equal(expected ? entry : 0, seq);
                }
            }
        }

        void Forget()
        {
            // An id remembered again has a newer entry: keep that one.
            var (key, seq, _) = order.Dequeue();
            if (bySeq.TryGetValue(key, out var newest) && newest == seq)
            {
                bySeq.Remove(key);
            }
        }
    }
}
