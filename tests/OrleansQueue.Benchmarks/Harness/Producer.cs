using System.Diagnostics;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>One producer: sends message 0..count-1 with up to <c>inFlight</c> sends awaiting their confirm.</summary>
public static class Producer
{
    public sealed record Outcome(int Confirmed, int Failed, double Seconds, string? FirstError);

    /// <summary>Sends as fast as confirms allow, or paced at <paramref name="perSecond"/> messages per second.</summary>
    public static async Task<Outcome> SendAsync(IBenchTarget target, string queue, int count, int inFlight, double? perSecond = null)
    {
        using var gate = new SemaphoreSlim(inFlight);
        var confirmed = 0;
        var failed = 0;
        string? firstError = null;
        var sends = new List<Task>(count);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            if (perSecond is { } rate)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > watch.Elapsed)
                {
                    await Task.Delay(due - watch.Elapsed);
                }
            }

            await gate.WaitAsync();
            var body = Recorder.Body(i);
            sends.Add(SendOneAsync(body));
        }

        await Task.WhenAll(sends);
        return new Outcome(confirmed, failed, watch.Elapsed.TotalSeconds, firstError);

        async Task SendOneAsync(byte[] body)
        {
            try
            {
                Recorder.Stamp(body);
                await target.SendAsync(queue, body);
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
