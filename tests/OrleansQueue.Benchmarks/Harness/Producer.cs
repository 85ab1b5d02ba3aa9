using System.Diagnostics;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// One producer: sends message 0..count-1 with up to <c>inFlight</c> sends awaiting their confirm; with several
/// queues, message i goes to queue i mod their count, so the sends in flight are split across them.
/// </summary>
public static class Producer
{
    /// <summary>What the sends did; <c>ConfirmMs</c> is the send-to-confirm latency (p50, p99, p99.9) of the confirmed sends.</summary>
    public sealed record Outcome(int Confirmed, int Failed, double Seconds, string? FirstError, (double P50, double P99, double P999)? ConfirmMs);

    /// <summary>Sends as fast as confirms allow, or paced at <paramref name="perSecond"/> messages per second.</summary>
    public static Task<Outcome> SendAsync(IBenchTarget target, string queue, int count, int inFlight, double? perSecond = null) =>
        SendAsync(target, [queue], count, inFlight, Recorder.BodySize, perSecond);

    /// <summary>Sends bodies of <paramref name="bodySize"/> bytes round-robin to <paramref name="queues"/>.</summary>
    public static async Task<Outcome> SendAsync(IBenchTarget target, IReadOnlyList<string> queues, int count, int inFlight, int bodySize, double? perSecond = null)
    {
        using var gate = new SemaphoreSlim(inFlight);
        var confirmed = 0;
        var failed = 0;
        string? firstError = null;
        var sends = new List<Task>(count);
        var confirmTicks = new long[count];
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            if (perSecond is { } rate)
            {
                await Pacing.WaitForTurnAsync(watch, i, rate);
            }

            await gate.WaitAsync();
            var body = Recorder.Body(i, bodySize);
            sends.Add(SendOneAsync(queues[i % queues.Count], body, i));
        }

        await Task.WhenAll(sends);
        var elapsed = watch.Elapsed.TotalSeconds;
        return new Outcome(confirmed, failed, elapsed, firstError, Recorder.Percentiles(confirmTicks.Where(t => t > 0)));

        async Task SendOneAsync(string queue, byte[] body, int index)
        {
            try
            {
                var start = Recorder.Stamp(body);
                await target.SendAsync(queue, body);
                confirmTicks[index] = Math.Max(1, Stopwatch.GetTimestamp() - start);
                Interlocked.Increment(ref confirmed);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref failed);
                Interlocked.CompareExchange(ref firstError, $"{ex.GetType().Name}: {ex.Message}", null);
            }
            finally
            {
                gate.Release();
            }
        }
    }
}
