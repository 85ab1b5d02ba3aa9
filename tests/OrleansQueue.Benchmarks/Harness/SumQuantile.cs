namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// Quantiles of the sum of two measured samples (for the W3 lower bound): exactly, if the two are independent
/// (<see cref="Of"/>); and the least the quantile can be however they are paired (<see cref="LeastOverAnyPairing"/>).
/// </summary>
public static class SumQuantile
{
    /// <summary>
    /// The least q-quantile of X + Y over every joint distribution of X and Y with these marginals (any pairing, any
    /// correlation): the maximum over u in [0, q] of Qa(u) + Qb(q - u), with Q the empirical quantile (Q(t) is the
    /// value at rank ⌈t·n⌉, Q(0) the smallest). If both were below it, fewer than u of a and fewer than q - u of b
    /// would lie under their parts, so fewer than q of the sums could lie under the total. Both arrays sorted ascending.
    /// </summary>
    public static long LeastOverAnyPairing(long[] a, long[] b, double q)
    {
        var best = a[0] + b[RankIndex(q * b.Length, b.Length)];
        var top = RankIndex(q * a.Length, a.Length);
        for (var k = 1; k <= top + 1; k++)
        {
            // u just above (k - 1) / n: a's part is its k-th smallest, b's the quantile of q - (k - 1) / n.
            var rest = q - (k - 1) / (double)a.Length;
            if (rest <= 0)
            {
                break;
            }

            best = Math.Max(best, a[k - 1] + b[RankIndex(rest * b.Length, b.Length)]);
        }

        return best;
    }

    /// <summary>The 0-based index of the value at rank ⌈x⌉ (at least the first).</summary>
    private static int RankIndex(double x, int length) => Math.Clamp((int)Math.Ceiling(x - 1e-9) - 1, 0, length - 1);

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
