using System.Buffers.Binary;
using System.Diagnostics;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// The messages of one workload. Each body (256 bytes unless the workload says otherwise) carries its send timestamp (<see cref="Stopwatch"/> ticks, one
/// monotonic clock for the whole machine) and its index, so the consumer measures end-to-end latency and counts
/// distinct messages and duplicates.
/// </summary>
public sealed class Recorder
{
    public const int BodySize = 256;

    /// <summary>Random bytes that bodies are cut from: no storage or wire compresses them away.</summary>
    private static readonly byte[] Filler = RandomFiller();

    private readonly int _bodySize;
    private readonly int[] _seen;
    private readonly long[] _latencyTicks;
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _distinct;
    private int _duplicates;
    private int _unexpected;
    private long _lastReceived;

    public Recorder(int expected, int bodySize = BodySize)
    {
        Expected = expected;
        _bodySize = bodySize;
        _seen = new int[expected];
        _latencyTicks = new long[expected];
        if (expected == 0)
        {
            _all.SetResult();
        }
    }

    public int Expected { get; }

    public int Distinct => Volatile.Read(ref _distinct);

    public int Duplicates => Volatile.Read(ref _duplicates);

    public int Unexpected => Volatile.Read(ref _unexpected);

    /// <summary>The timestamp of the last first-time delivery.</summary>
    public long LastReceived => Volatile.Read(ref _lastReceived);

    /// <summary>A body of <paramref name="size"/> random bytes (at least 12) that carries <paramref name="index"/>.</summary>
    public static byte[] Body(int index, int size = BodySize)
    {
        var body = new byte[size];
        Filler.AsSpan((int)((uint)index * 61u % (uint)(Filler.Length - size + 1)), size).CopyTo(body);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), index);
        return body;
    }

    /// <summary>Bodies <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 of <paramref name="size"/> bytes, one after the other in one array (a floor's row).</summary>
    public static byte[] Bodies(int first, int count, int size)
    {
        var bodies = new byte[count * size];
        for (var m = 0; m < count; m++)
        {
            Body(first + m, size).CopyTo(bodies, m * size);
        }

        return bodies;
    }

    private static byte[] RandomFiller()
    {
        var filler = new byte[MaxBodySize * 2];
        new Random(17).NextBytes(filler);
        return filler;
    }

    /// <summary>The largest body a workload sends.</summary>
    public const int MaxBodySize = 64 * 1024;

    /// <summary>Stamps the send time into the body, just before it is sent.</summary>
    public static long Stamp(byte[] body)
    {
        var now = Stopwatch.GetTimestamp();
        BinaryPrimitives.WriteInt64LittleEndian(body, now);
        return now;
    }

    public void OnMessage(ReadOnlyMemory<byte> body)
    {
        var now = Stopwatch.GetTimestamp();
        var span = body.Span;
        if (span.Length != _bodySize)
        {
            Interlocked.Increment(ref _unexpected);
            return;
        }

        var index = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        if ((uint)index >= (uint)_seen.Length)
        {
            Interlocked.Increment(ref _unexpected);
            return;
        }

        if (Interlocked.Exchange(ref _seen[index], 1) != 0)
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }

        _latencyTicks[index] = now - BinaryPrimitives.ReadInt64LittleEndian(span);
        long last;
        do
        {
            last = Volatile.Read(ref _lastReceived);
        }
        while (now > last && Interlocked.CompareExchange(ref _lastReceived, now, last) != last);

        if (Interlocked.Increment(ref _distinct) == Expected)
        {
            _all.TrySetResult();
        }
    }

    /// <summary>Waits until every message arrived or <paramref name="timeout"/> passed; returns whether all arrived.</summary>
    public async Task<bool> WaitAllAsync(TimeSpan timeout)
    {
        try
        {
            await _all.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Latency percentiles in milliseconds over the delivered messages.</summary>
    public (double P50, double P99, double P999)? Percentiles() =>
        Percentiles(Enumerable.Range(0, _seen.Length).Where(i => Volatile.Read(ref _seen[i]) != 0).Select(i => _latencyTicks[i]));

    /// <summary>Percentiles in milliseconds of <see cref="Stopwatch"/> tick durations; null when there are none.</summary>
    public static (double P50, double P99, double P999)? Percentiles(IEnumerable<long> ticks)
    {
        var values = ticks.ToList();
        if (values.Count == 0)
        {
            return null;
        }

        values.Sort();
        double At(double q) => Ms(values[Math.Min(values.Count - 1, (int)Math.Ceiling(q * values.Count) - 1)]);
        return (At(0.50), At(0.99), At(0.999));
    }

    /// <summary>Milliseconds of a <see cref="Stopwatch"/> tick count.</summary>
    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
