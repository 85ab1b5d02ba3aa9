using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace OrleansQueue;

/// <summary>
/// Coalesces concurrent single-message sends to one queue from one client into batch <c>Enqueue</c> calls, the way a
/// Kafka producer batches: a send goes out at once when fewer than <see cref="MaxCallsInFlight"/> calls are running;
/// otherwise it waits for the next call, which takes everything waiting (up to the batch limits). No send waits for a
/// timer. Each send still gets its own result: its sequence number once the batch is durably stored, or the call's
/// failure (then the sender retries with the same id, as without coalescing). Coalescers idle for
/// <see cref="IdleAfter"/> leave the client's table once it holds more than <see cref="SweepAbove"/>, so a client that
/// sends to many queues keeps coalescers only for those it sent to lately.
/// </summary>
internal sealed class SendCoalescer
{
    /// <summary>Batch calls per queue and client running at once; enough to keep the queue's group commit busy.</summary>
    public const int MaxCallsInFlight = 4;

    private static readonly ConditionalWeakTable<IGrainFactory, ConcurrentDictionary<string, SendCoalescer>> Shared = new();

    private readonly IQueueGrain _grain;
    private readonly QueueConnectionMonitor? _connection;
    private readonly int _maxBatchCount;
    private readonly long _maxBatchBytes;
    private readonly Queue<(OutgoingMessage Message, TaskCompletionSource<long> Done)> _waiting = new();
    private int _calls;
    private long _idleSince = Environment.TickCount64;

    /// <summary>A coalescer with no send for this long may leave its client's table (a cache heuristic, on the real clock).</summary>
    internal static TimeSpan IdleAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Idle coalescers are swept only from tables larger than this.</summary>
    internal static int SweepAbove { get; set; } = 100;

    internal SendCoalescer(IQueueGrain grain, QueueClientOptions options, QueueConnectionMonitor? connection = null)
    {
        _grain = grain;
        _connection = connection;
        _maxBatchCount = options.MaxBatchCount;
        _maxBatchBytes = options.MaxBatchBodyBytes;
    }

    /// <summary>
    /// The coalescer of this client (grain factory) for the handle's queue, shared by every handle on it; the first
    /// handle's grain reference and options make it.
    /// </summary>
    public static SendCoalescer For(IGrainFactory factory, QueueClient handle, QueueClientOptions options)
    {
        var table = Shared.GetValue(factory, _ => new ConcurrentDictionary<string, SendCoalescer>(StringComparer.Ordinal));
        if (table.Count > SweepAbove)
        {
            Sweep(table);
        }

        return table.GetOrAdd(handle.Name, static (name, state) => new SendCoalescer(state.handle.Grain, state.options, state.handle.Connection),
            (handle, options));
    }

    /// <summary>Removes the coalescers idle for <see cref="IdleAfter"/>. One that a send takes meanwhile still works.</summary>
    private static void Sweep(ConcurrentDictionary<string, SendCoalescer> table)
    {
        var now = Environment.TickCount64;
        foreach (var (name, coalescer) in table)
        {
            if (coalescer.IsIdleSince(now - (long)IdleAfter.TotalMilliseconds))
            {
                table.TryRemove(new KeyValuePair<string, SendCoalescer>(name, coalescer));
            }
        }
    }

    private bool IsIdleSince(long tick)
    {
        lock (_waiting)
        {
            return _calls == 0 && _waiting.Count == 0 && Volatile.Read(ref _idleSince) <= tick;
        }
    }

    /// <summary>How many queues of this client have a coalescer now (for tests).</summary>
    internal static int CountFor(IGrainFactory factory) => Shared.TryGetValue(factory, out var table) ? table.Count : 0;

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
                    Volatile.Write(ref _idleSince, Environment.TickCount64);
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

                // A call cut off by a lost gateway connection frees its slot at once; its senders retry.
                var sequences = _connection is { } connection
                    ? await _grain.Enqueue(messages).WaitAsync(connection.Lost).ConfigureAwait(false)
                    : await _grain.Enqueue(messages).ConfigureAwait(false);
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
