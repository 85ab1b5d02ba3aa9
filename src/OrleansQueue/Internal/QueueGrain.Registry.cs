using Microsoft.Extensions.Logging;
using OrleansQueue.Registry;
using OrleansQueue.Storage;

namespace OrleansQueue.Internal;

/// <summary>
/// The queue's entry in the queue registry: listed before its first write, and marked as having push subscribers
/// before a subscription is stored (unmarked after the last one is gone), so that a silo that starts, or sees another
/// die, wakes it at once. The cursor records what the registry was told; a cursor that was not written in time only
/// costs a repeated (harmless) registry call.
/// </summary>
internal sealed partial class QueueGrain : IQueueWake
{
    private Task? _listingUpdate;

    public async Task Wake()
    {
        await GetCoreAsync(); // loading starts the pushes (OnLoaded)
        Dispatch();
    }

    private static RegistryListing ListingFor(bool hasSubscribers) =>
        hasSubscribers ? RegistryListing.ListedWithSubscribers : RegistryListing.Listed;

    /// <summary>Lists the queue before its first write (the registry already lists it unless the cursor says otherwise).</summary>
    private Task EnsureListedAsync(QueueCore core) =>
        core.Listing == RegistryListing.NotListed ? UpdateListingAsync(core, subscribing: false) : Task.CompletedTask;

    /// <summary>
    /// Brings the registry in line with the queue: listed, with subscribers when it has any (or is taking its first,
    /// <paramref name="subscribing"/>). One registry call runs at a time.
    /// </summary>
    private async Task UpdateListingAsync(QueueCore core, bool subscribing)
    {
        while (_core == core)
        {
            var wanted = ListingFor(subscribing || core.Subscriptions.Count > 0);
            if (core.Listing == wanted)
            {
                return;
            }

            if (_listingUpdate is { } running)
            {
                await running;
                continue;
            }

            _listingUpdate = GrainFactory.ShardFor(QueueName).Set(QueueName, wanted == RegistryListing.ListedWithSubscribers);
            try
            {
                await _listingUpdate;
            }
            finally
            {
                _listingUpdate = null;
            }

            core.Listing = wanted; // stored with the next cursor write
        }
    }

    /// <summary>
    /// After subscriptions changed, on load and on each timer tick: tells the registry whether the queue has push
    /// subscribers when it was told otherwise. A failure is logged, counted and tried again on the next tick.
    /// </summary>
    private void SyncListingInBackground(QueueCore core)
    {
        var wanted = ListingFor(core.Subscriptions.Count > 0);
        if (_listingUpdate is not null || core.Listing == wanted || (core.Listing == RegistryListing.NotListed && wanted == RegistryListing.Listed))
        {
            return; // running, in line, or a queue without subscribers not listed yet: its next write lists it
        }

        _ = SyncListingAsync(core);
    }

    private async Task SyncListingAsync(QueueCore core)
    {
        try
        {
            await UpdateListingAsync(core, subscribing: false);
            CommitMetaInBackground();
        }
        catch (Exception ex)
        {
            LogListingFailed(ex, QueueName);
            RecordError("registry");
        }
    }

    [LoggerMessage(25, LogLevel.Warning, "Queue {Queue}: updating its entry in the queue registry failed; tried again on the next timer tick")]
    private partial void LogListingFailed(Exception exception, string queue);
}
