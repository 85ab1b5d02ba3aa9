using System.Collections.Concurrent;

namespace OrleansQueue.Tests.Unit;

public sealed class RandomIdsTests
{
    [Fact]
    public void Ids_AreVersion4Guids_AndDistinct_AcrossThreads()
    {
        var ids = new ConcurrentBag<Guid>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (var i = 0; i < 25_000; i++)
            {
                ids.Add(RandomIds.NewGuid());
            }
        });

        Assert.Equal(100_000, ids.Distinct().Count());
        foreach (var id in ids.Take(1000))
        {
            Assert.Equal(4, id.Version);
            Assert.Equal(0b10, id.Variant >> 2); // RFC 9562: the variant nibble is 10xx
        }
    }
}
