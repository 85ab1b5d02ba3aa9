using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace OrleansQueue;

/// <summary>
/// Coalesces concurrent single-message sends to one queue from one client into batch <c>Enqueue</c> calls, the way a
/// Kafka producer batches: a send goes out at once when fewer than <see cref="MaxCallsInFlight"/> calls are running;
/// otherwise it waits for the next call, which takes everything waiting (up to the batch limits). No send waits for a
/// timer. Each send still gets its own result: its sequence number once the batch is durably stored, or the call's
/// failure (then the sender retries with the same id, as without coalescing).
/// </summary>
internal sealed class SendCoalescer
{
    /// <summary>Batch calls per queue and client running at once; enough to keep the queue's group commit busy.</summary>
    public const int MaxCallsInFlight = 4;

    private static readonly ConditionalWeakTable<IGrainFactory, ConcurrentDictionary<string, SendCoalescer>> Shared = new();

    private readonly IQueueGrain _grain;
    private readonly int _maxBatchCount;
    private readonly long _maxBatchBytes;
    private readonly Queue<(OutgoingMessage Message, TaskCompletionSource<long> Done)> _waiting = new();
    private int _calls;

    internal SendCoalescer(IQueueGrain grain, QueueClientOptions options)
    {
        _grain = grain;
        _maxBatchCount = options.MaxBatchCount;
        _maxBatchBytes = options.MaxBatchBodyBytes;
    }

    /// <summary>
    /// The coalescer of this client (grain factory) for the handle's queue, shared by every handle on it; the first
    /// handle's grain reference and options make it.
    /// </summary>
    public static SendCoalescer For(IGrainFactory factory, QueueClient handle, QueueClientOptions options) =>
        Shared.GetValue(factory, _ => new ConcurrentDictionary<string, SendCoalescer>(StringComparer.Ordinal))
            .GetOrAdd(handle.Name, static (_, state) => new SendCoalescer(state.handle.Grain, state.options), (handle, options));

    /// <summary>Sends one validated message with an id; completes with its sequence number once it is stored.</summary>
    public Task<long> SendAsync(OutgoingMessage message)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_waiting)
        {
            _waiting.Enqueue((message, done));
            start = _calls < MaxCallsInFlight;
            if (start)
            {
                _calls++;
            }
        }

        if (start)
        {
            _ = PumpAsync();
        }

        return done.Task;
    }

    private async Task PumpAsync()
    {
        var batch = new List<(OutgoingMessage Message, TaskCompletionSource<long> Done)>();
        while (true)
        {
            batch.Clear();
            lock (_waiting)
            {
                long bytes = 0;
                while (_waiting.TryPeek(out var next) && batch.Count < _maxBatchCount
                    && (batch.Count == 0 || bytes + next.Message.Body.Length <= _maxBatchBytes))
                {
                    bytes += next.Message.Body.Length;
                    batch.Add(_waiting.Dequeue());
                }

                if (batch.Count == 0)
                {
                    _calls--;
                    return;
                }
            }

            try
            {
                var messages = new OutgoingMessage[batch.Count];
                for (var i = 0; i < messages.Length; i++)
                {
                    messages[i] = batch[i].Message;
                }

                var sequences = await _grain.Enqueue(messages).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(sequences[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var (_, done) in batch)
                {
                    done.TrySetException(ex);
                }
            }
        }
    }
}
