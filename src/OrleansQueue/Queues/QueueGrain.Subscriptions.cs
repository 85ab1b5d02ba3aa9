using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Push;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>Push subscriptions: subscribing, lapsing, and the messages locked for a consumer that goes.</summary>
internal sealed partial class QueueGrain
{
    public async Task Subscribe(GrainId consumer, ConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (consumer.IsDefault)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, "The consumer's grain id is empty.");
        }

        options.Validate();
        QueueCore core;
        do
        {
            // The registry hears of the subscriber before the subscription is stored, so no silo misses waking it.
            core = await GetCoreAsync();
            await UpdateListingAsync(core, subscribing: true);
        }
        while (_core != core);

        var grainId = consumer;
        var key = grainId.ToString();
        var record = core.Subscriptions.Find(s => s.Consumer == key);
        if (record is null)
        {
            if (core.Subscriptions.Count >= MaxSubscriptions)
            {
                throw new QueueException(QueueErrorCode.QuotaExceeded, $"Queue '{QueueName}' has {MaxSubscriptions} subscriptions already.");
            }

            record = new SubscriptionRecord { Consumer = key };
            core.Subscriptions.Add(record);
            LogSubscribed(QueueName, key, options.Prefetch, options.AutoComplete);
        }

        record.Prefetch = options.Prefetch;
        record.MaxBatchSize = options.MaxBatchSize;
        record.AutoComplete = options.AutoComplete;
        record.MaxConcurrentCalls = options.MaxConcurrentCalls;
        record.MaxAutoLockRenewalDuration = options.MaxAutoLockRenewalDuration;
        record.ExpiresAt = grainId.IsClient() ? _time.GetUtcNow() + ClientSubscriptionLifetime : null;
        TrackConsumer(record);
        await _metaPump!.CommitAsync();
        await EnsureReminderAsync(core);
        Dispatch();
    }

    public async Task Unsubscribe(GrainId consumer)
    {
        var core = await GetCoreAsync();
        var key = consumer.ToString();
        if (core.Subscriptions.RemoveAll(s => s.Consumer == key) > 0)
        {
            RemoveConsumer(core, key);
            await _metaPump!.CommitAsync();
            SyncListingInBackground(core);
        }
    }

    private bool IsSubscribed(ConsumerState consumer) =>
        _consumers.TryGetValue(consumer.Record.Consumer, out var current) && ReferenceEquals(current, consumer);

    private void TrackConsumer(SubscriptionRecord record)
    {
        if (_consumers.TryGetValue(record.Consumer, out var state))
        {
            state.Record = record;
            state.Paused = false; // a renewal: the client is connected again
            return;
        }

        var consumer = GrainId.Parse(record.Consumer);
        _consumers[record.Consumer] = new ConsumerState(record, GrainFactory.GetGrain<IQueueConsumer>(consumer), GrainFactory.GetGrain<IQueueBatchConsumer>(consumer));
    }

    private void DropExpiredSubscriptions(QueueCore core, DateTimeOffset now)
    {
        foreach (var expired in core.Subscriptions.Where(s => s.ExpiresAt is { } at && at <= now).ToList())
        {
            core.Subscriptions.Remove(expired);
            RemoveConsumer(core, expired.Consumer);
            LogSubscriptionLapsed(QueueName, expired.Consumer);
            CommitMetaInBackground();
            SyncListingInBackground(core);
        }
    }

    /// <summary>Forgets a consumer; the messages locked for it and not yet pushed go out again at once.</summary>
    private void RemoveConsumer(QueueCore core, string key)
    {
        if (_consumers.Remove(key, out var consumer))
        {
            ReleaseBuffered(core, consumer, _time.GetUtcNow());
        }
    }

    /// <summary>
    /// Unlocks the messages locked for a consumer but not pushed to it: nobody got them, so they are ready again at
    /// once with the delivery count they had (a delivery nobody got is no attempt).
    /// </summary>
    private void ReleaseBuffered(QueueCore core, ConsumerState consumer, DateTimeOffset now)
    {
        var released = 0;
        while (consumer.Buffer.TryDequeue(out var lease))
        {
            _pushes.Remove(lease.Token);
            consumer.Reserved--;
            if (core.Unlock(lease.Token, now))
            {
                released++;
            }
        }

        if (released > 0)
        {
            CommitMetaInBackground();
            AfterRelease();
        }
    }
}
