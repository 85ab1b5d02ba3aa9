using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

/// <summary>A handle on the cluster-wide dead-letter grain: browse, count, redrive, delete.</summary>
public sealed class DeadLetterClient
{
    private readonly IDeadLetterGrain _grain;

    internal DeadLetterClient(IGrainFactory grainFactory) => _grain = grainFactory.GetGrain<IDeadLetterGrain>(0);

    /// <summary>
    /// One page of up to <paramref name="pageSize"/> (1 to 1,000) entries matching <paramref name="filter"/>, from
    /// <paramref name="fromEntryId"/> on; a page may be short, even empty, while
    /// <see cref="DeadLetterPage.ContinuationEntryId"/> says more may follow.
    /// </summary>
    public Task<DeadLetterPage> BrowseAsync(DeadLetterFilter? filter = null, int pageSize = 100, long fromEntryId = 0, CancellationToken cancellationToken = default)
    {
        QueueLimits.ValidateCount(pageSize, 1000, nameof(pageSize));
        return _grain.Browse(filter ?? DeadLetterFilter.All, pageSize, fromEntryId, cancellationToken).WaitAsync(cancellationToken);
    }

    /// <summary>Every entry matching <paramref name="filter"/>, page by page.</summary>
    public async IAsyncEnumerable<DeadLetterEntry> BrowseAllAsync(DeadLetterFilter? filter = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long? from = 0;
        while (from is { } next)
        {
            var page = await BrowseAsync(filter, 100, next, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                yield return entry;
            }

            from = page.ContinuationEntryId;
        }
    }

    /// <summary>Counts in all, per reason and per source queue.</summary>
    public Task<DeadLetterStats> GetStatsAsync(CancellationToken cancellationToken = default) => _grain.GetStats().WaitAsync(cancellationToken);

    /// <summary>
    /// Sends matching entries back to their source queue (or <paramref name="targetQueue"/>), keeping message ids,
    /// at most <paramref name="messagesPerSecond"/> (1 to 100,000); returns how many were sent back. It covers every matching entry
    /// that exists when it starts (however many entries come before it), a page per call; entries dead-lettered
    /// meanwhile (a redriven message that fails again) are left for the next redrive.
    /// </summary>
    public async Task<long> RedriveAsync(DeadLetterFilter? filter = null, string? targetQueue = null, int messagesPerSecond = 100, CancellationToken cancellationToken = default)
    {
        if (targetQueue is not null)
        {
            QueueLimits.ValidateQueueName(targetQueue);
        }

        QueueLimits.ValidateCount(messagesPerSecond, 100_000, nameof(messagesPerSecond));
        long total = 0;
        var batch = Math.Min(messagesPerSecond, 100);
        var range = new DeadLetterRange();
        while (true)
        {
            var started = DateTime.UtcNow;
            var result = await _grain.Redrive(filter ?? DeadLetterFilter.All, targetQueue, batch, range).WaitAsync(cancellationToken).ConfigureAwait(false);
            total += result.Redriven;
            if (result.Next is not { } next)
            {
                return total;
            }

            range = next;
            var pace = TimeSpan.FromSeconds((double)result.Redriven / messagesPerSecond) - (DateTime.UtcNow - started);
            if (pace > TimeSpan.Zero)
            {
                await Task.Delay(pace, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Deletes the entries with these ids (1 to 1,000 of them); returns how many existed.</summary>
    public Task<int> DeleteAsync(IEnumerable<long> entryIds, CancellationToken cancellationToken = default) =>
        _grain.Delete(entryIds.ToArray()).WaitAsync(cancellationToken);

    /// <summary>
    /// Deletes every entry matching <paramref name="filter"/> that exists when it starts, a page per call (however many
    /// entries come before a match); returns how many.
    /// </summary>
    public async Task<long> PurgeAsync(DeadLetterFilter? filter = null, CancellationToken cancellationToken = default)
    {
        long total = 0;
        for (DeadLetterRange? range = new(); range is not null;)
        {
            var result = await _grain.Purge(filter ?? DeadLetterFilter.All, range).WaitAsync(cancellationToken).ConfigureAwait(false);
            total += result.Purged;
            range = result.Next;
        }

        return total;
    }
}
