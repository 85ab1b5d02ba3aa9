using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Options;
using OrleansQueue.Storage;

namespace OrleansQueue.DeadLetters;

/// <summary>Redrive, delete and purge: each reaches the matching entries in ranges, a page of segments per call.</summary>
internal sealed partial class DeadLetterGrain
{
    public async Task<RedriveResult> Redrive(DeadLetterFilter filter, string? targetQueue, int maxMessages, DeadLetterRange range)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(range);
        QueueLimits.ValidateCount(maxMessages, MaxEntriesPerCall, nameof(maxMessages));
        if (targetQueue is not null)
        {
            QueueLimits.ValidateQueueName(targetQueue);
        }

        await EnsureLoadedAsync();
        var until = range.UntilEntryId ?? _log.NextId;
        var (matches, continuation) = await ScanAsync(filter, maxMessages, range.FromEntryId, until);
        var redriven = 0;
        foreach (var group in matches.GroupBy(m => targetQueue ?? m.SourceQueue))
        {
            var target = GrainFactory.GetGrain<IQueueRedriveTarget>(group.Key);
            foreach (var batch in RedriveBatches(group))
            {
                var messages = batch.Select(e => MessageViews.ToOutgoingMessage(e.Message)).ToArray();

                // Deduplicated by the move, not the message id: a redrive repeated after a crash stores one copy, and a
                // message redriven soon after it was first sent is not mistaken for a duplicate of itself.
                var keys = batch.Select(e => $"redrive:{e.MoveId:N}").ToArray();
                await target.EnqueueRedriven(messages, keys);
                redriven += await DeleteAsync(batch.Select(e => e.EntryId).ToList());
                LogRedriven(batch.Count, group.Key);
            }
        }

        return new RedriveResult
        {
            Redriven = redriven,
            More = continuation is not null,
            Next = continuation is { } from ? new DeadLetterRange { FromEntryId = from, UntilEntryId = until } : null,
        };
    }

    public async Task<int> Delete(long[] entryIds)
    {
        ArgumentNullException.ThrowIfNull(entryIds);
        QueueLimits.ValidateCount(entryIds.Length, MaxEntriesPerCall, "The number of entry ids");
        await EnsureLoadedAsync();
        return await DeleteAsync(entryIds);
    }

    public async Task<PurgeResult> Purge(DeadLetterFilter filter, DeadLetterRange range)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(range);
        await EnsureLoadedAsync();
        var until = range.UntilEntryId ?? _log.NextId;
        var (matches, continuation) = await ScanAsync(filter, MaxEntriesPerCall, range.FromEntryId, until);
        var purged = await DeleteAsync(matches.Select(m => m.EntryId).ToList());
        return new PurgeResult
        {
            Purged = purged,
            Next = continuation is { } from ? new DeadLetterRange { FromEntryId = from, UntilEntryId = until } : null,
        };
    }

    /// <summary>
    /// Deletes the entries with these ids that exist; returns how many. Write-ahead: the counts and the pending list
    /// go to the cursor first, then the segments, then the list is cleared. A failure anywhere drops the in-memory
    /// state, and the next call's load applies the pending list again, so counts and entries never disagree.
    /// </summary>
    private async Task<int> DeleteAsync(IReadOnlyCollection<long> entryIds)
    {
        if (entryIds.Count == 0)
        {
            return 0;
        }

        try
        {
            var found = await _log.FindAsync(entryIds);
            if (found.Entries.Count == 0)
            {
                return 0;
            }

            foreach (var entry in found.Entries)
            {
                DeadLetterCounts.Apply(_meta, entry, -1);
            }

            _meta.PendingDeletes = found.Entries.Select(e => e.EntryId).ToList();
            await WriteMetaAsync();
            await _log.RemoveAsync(found);
            _meta.PendingDeletes = [];
            await WriteMetaAsync();
            _depth?.Set(_meta.CountBySourceQueue);
            return found.Entries.Count;
        }
        catch (Exception ex)
        {
            throw StorageFailed(ex, "deleting dead-letter entries");
        }
    }

    /// <summary>The entries of one target queue in batches its enqueue accepts: within MaxBatchCount and MaxBatchBodyBytes.</summary>
    private IEnumerable<List<StoredDeadLetter>> RedriveBatches(IEnumerable<StoredDeadLetter> entries)
    {
        var batch = new List<StoredDeadLetter>();
        long bytes = 0;
        foreach (var entry in entries)
        {
            var size = entry.Message.Body.Length;
            if (batch.Count > 0 && (batch.Count >= _options.MaxBatchCount || bytes + size > _options.MaxBatchBodyBytes))
            {
                yield return batch;
                (batch, bytes) = ([], 0);
            }

            batch.Add(entry);
            bytes += size;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }
}
