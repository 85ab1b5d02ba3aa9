using OrleansQueue.Benchmarks.Harness;

namespace OrleansQueue.Benchmarks.Tests;

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

    [Theory]
    [InlineData(50, 11)]
    [InlineData(200, 12)]
    [InlineData(400, 13)]
    public void TheLeastOverAnyPairing_IsNoMoreThanAnyPairingGives_AndNoLessThanEitherPartAlone(int n, int seed)
    {
        var random = new Random(seed);
        long Draw() => random.Next(4) == 0 ? random.Next(1, 50_000) : random.Next(1_000, 1_040);
        var a = Enumerable.Range(0, n).Select(_ => Draw()).Order().ToArray();
        var b = Enumerable.Range(0, n).Select(_ => Draw()).Order().ToArray();
        long QuantileOfPairing(int[] pairing, double q)
        {
            var sums = Enumerable.Range(0, n).Select(i => a[i] + b[pairing[i]]).Order().ToArray();
            return sums[Math.Clamp((int)Math.Ceiling(q * n) - 1, 0, n - 1)];
        }

        foreach (var q in new[] { 0.5, 0.9, 0.99 })
        {
            var least = SumQuantile.LeastOverAnyPairing(a, b, q);
            var pairings = new List<int[]>
            {
                Enumerable.Range(0, n).ToArray(),                       // slow with slow
                Enumerable.Range(0, n).Reverse().ToArray(),             // slow with fast
            };
            for (var p = 0; p < 20; p++)
            {
                pairings.Add(Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray());
            }

            foreach (var pairing in pairings)
            {
                Assert.True(least <= QuantileOfPairing(pairing, q), $"q={q}: {least} above a pairing's {QuantileOfPairing(pairing, q)} (n={n}, seed {seed})");
            }

            Assert.True(least <= SumQuantile.Of(a, b, q), $"q={q}: above the independent sum's quantile");
            var qa = a[Math.Clamp((int)Math.Ceiling(q * n) - 1, 0, n - 1)];
            var qb = b[Math.Clamp((int)Math.Ceiling(q * n) - 1, 0, n - 1)];
            Assert.True(least >= Math.Max(qa + b[0], a[0] + qb), $"q={q}: {least} below one part's quantile plus the other's least");
        }
    }

    [Fact]
    public void WhenSlowCallsAndSlowWritesCoincide_TheBoundIsBelowTheIndependentEstimate()
    {
        // One slow value in each of 100: independent, 2% of the sums are slow and the p99 is slow; paired slow with
        // slow, only 1% are, and the p99 is fast. The bound must allow that.
        var a = Enumerable.Repeat(1L, 99).Append(100).ToArray();
        var b = Enumerable.Repeat(1L, 99).Append(100).ToArray();
        Assert.Equal(101, SumQuantile.Of(a, b, 0.99));
        Assert.Equal(2, SumQuantile.LeastOverAnyPairing(a, b, 0.99));
        Assert.Equal(101, SumQuantile.LeastOverAnyPairing(a, b, 1.0)); // slow with fast, both ways
    }
}
