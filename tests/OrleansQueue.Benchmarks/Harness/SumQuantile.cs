namespace OrleansQueue.Benchmarks.Harness;

/// <summary>Quantiles of the sum of two independent samples, computed exactly over all pairs (for the W3 lower bound).</summary>
public static class SumQuantile
{
    /// <summary>
    /// The smallest sum s of one element of <paramref name="a"/> and one of <paramref name="b"/> (both sorted) such that
    /// at least the fraction <paramref name="q"/> of all a.Length × b.Length pairs sum to s or less: the q-quantile of
    /// the sum's distribution, with the same ceiling rule as the benchmark's percentiles (the value at rank ⌈q·n⌉).
    /// </summary>
    public static long Of(long[] a, long[] b, double q)
    {
        var pairs = (long)a.Length * b.Length;
        var needed = Math.Max(1, (long)Math.Ceiling(q * pairs));
        long low = a[0] + b[0], high = a[^1] + b[^1];
        while (low < high)
        {
            var mid = low + (high - low) / 2;
            if (PairsAtMost(a, b, mid) >= needed)
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }

        return low;
    }

    /// <summary>How many pairs (x in a, y in b) have x + y ≤ <paramref name="sum"/>; both arrays sorted ascending.</summary>
    private static long PairsAtMost(long[] a, long[] b, long sum)
    {
        long count = 0;
        var j = b.Length; // b[..j] are the elements ≤ sum - a[i]; j only falls as a[i] rises
        foreach (var x in a)
        {
            while (j > 0 && b[j - 1] > sum - x)
            {
                j--;
            }

            if (j == 0)
            {
                break;
            }

            count += j;
        }

        return count;
    }
}
