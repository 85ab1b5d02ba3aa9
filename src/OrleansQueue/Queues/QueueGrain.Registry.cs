using Microsoft.Extensions.Logging;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Registry;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>
/// The queue's entry in the queue registry: listed before its first push subscription is stored, removed after its
/// last one is gone, so that a silo that starts, or sees another die, wakes it at once. The cursor records what the
/// registry was told; a cursor that was not written in time only costs a repeated (harmless) registry call.
/// </summary>
internal sealed partial class QueueGrain : IQueueWake
{
    private Task? _listingUpdate;

    public async Task Wake()
    {
        await GetCoreAsync(); // loading starts the pushes (OnLoaded)
        Dispatch();
    }

    /// <summary>
    /// Brings the registry in line with the queue: listed while it has subscribers (or is taking its first,
    /// <paramref name="subscribing"/>), not listed otherwise. One registry call runs at a time.
    /// </summary>
    private async Task UpdateListingAsync(QueueCore core, bool subscribing)
    {
        while (_core == core)
        {
            var wanted = subscribing || core.Subscriptions.Count > 0 ? RegistryListing.WithSubscribers : RegistryListing.NotListed;
            if (core.Listing == wanted)
            {
                return;
            }

            if (_listingUpdate is null)
            {
                var update = SetListingAsync(core, wanted);
                if (update.IsCompleted)
                {
                    await update; // failed before its first await: nothing to share
                    continue;
                }

                _listingUpdate = update;
            }

            await _listingUpdate; // when it completes, the listing it set and the cleared field are in place
        }
    }

    private async Task SetListingAsync(QueueCore core, RegistryListing wanted)
    {
        try
        {
            await GrainFactory.ShardFor(QueueName).Set(QueueName, wanted == RegistryListing.WithSubscribers);
            core.Listing = wanted; // stored with the next cursor write
        }
        finally
        {
            _listingUpdate = null;
        }
    }

    /// <summary>
    /// After subscriptions changed, on load and on each timer tick: tells the registry whether the queue has push
    /// subscribers when it was told otherwise. A failure is logged, counted and tried again on the next tick.
    /// </summary>
    private void SyncListingInBackground(QueueCore core)
    {
        var wanted = core.Subscriptions.Count > 0 ? RegistryListing.WithSubscribers : RegistryListing.NotListed;
        if (_listingUpdate is null && core.Listing != wanted)
        {
            _ = SyncListingAsync(core);
        }
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

    [LoggerMessage((int)LogEvent.RegistryListingFailed, LogLevel.Warning, "Queue {Queue}: updating its entry in the queue registry failed; tried again on the next timer tick")]
    private partial void LogListingFailed(Exception exception, string queue);
}
