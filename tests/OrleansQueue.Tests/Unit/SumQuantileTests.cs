using OrleansQueue.Benchmarks.Harness;

namespace OrleansQueue.Tests.Unit;

/// <summary>The benchmark's W3 lower bound: quantiles of the sum of two samples over all pairs, against brute force.</summary>
public sealed class SumQuantileTests
{
    [Theory]
    [InlineData(1, 1, 7)]
    [InlineData(3, 5, 1)]
    [InlineData(200, 150, 2)]
    [InlineData(400, 400, 3)]
    public void MatchesTheQuantileOfEveryPairSum(int left, int right, int seed)
    {
        var random = new Random(seed);
        // Long-tailed, with repeats, like latencies in ticks.
        long Draw() => random.Next(4) == 0 ? random.Next(1, 50_000) : random.Next(1_000, 1_040);
        var a = Enumerable.Range(0, left).Select(_ => Draw()).Order().ToArray();
        var b = Enumerable.Range(0, right).Select(_ => Draw()).Order().ToArray();
        var sums = a.SelectMany(x => b.Select(y => x + y)).Order().ToArray();

        foreach (var q in new[] { 0.0001, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0 })
        {
            var expected = sums[Math.Clamp((int)Math.Ceiling(q * sums.Length) - 1, 0, sums.Length - 1)];
            Assert.True(expected == SumQuantile.Of(a, b, q), $"q={q}: expected {expected}, got {SumQuantile.Of(a, b, q)} ({left}×{right} pairs, seed {seed})");
        }
    }

    [Fact]
    public void AConstantSampleShiftsTheOther()
    {
        long[] a = [10, 20, 30, 40];
        long[] b = [5];
        Assert.Equal(15, SumQuantile.Of(a, b, 0.25));
        Assert.Equal(35, SumQuantile.Of(a, b, 0.75));
        Assert.Equal(45, SumQuantile.Of(a, b, 1.0));
    }
}
