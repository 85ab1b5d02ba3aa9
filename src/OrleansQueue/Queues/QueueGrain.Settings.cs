using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>The queue's delivery settings (<see cref="DeliverySettings"/>), stored in its cursor record.</summary>
internal sealed partial class QueueGrain
{
    public async Task Create(QueueSettings settings)
    {
        DeliverySettings.Validate(settings, _options.MaxLockDuration, _options.MaxQueueLength);
        var scheduled = await ScheduledCountAsync();
        var core = await GetCoreAsync();
        var wanted = core.DeliverySettings.ResolveFixed(settings);
        if (core.DeliverySettings.IsFixed && SameSettings(core.Settings, wanted))
        {
            await _metaPump!.CommitAsync(); // a retry: done once the first is stored
            return;
        }

        if (_metaETag is not null || core.NextSeq > 1 || scheduled > 0 || !SameSettings(core.Settings, new QueueSettingsState()))
        {
            throw new QueueException(QueueErrorCode.QueueAlreadyExists,
                $"Queue '{QueueName}' exists already{(core.DeliverySettings.IsFixed ? ", created with other settings" : "")}; nothing changed. " +
                "Change a queue's settings with Configure, or delete it first.");
        }

        core.Settings = wanted; // checked and set with no await between: a concurrent create sees it
        core.TrimDedup(_time.GetUtcNow());
        await _metaPump!.CommitAsync();
        LogCreated(QueueName);
    }

    public async Task Configure(QueueSettings settings)
    {
        DeliverySettings.Validate(settings, _options.MaxLockDuration, _options.MaxQueueLength);
        var core = await GetCoreAsync();
        ThrowIfFixed(core);
        core.Settings = core.DeliverySettings.Merge(settings);
        core.TrimDedup(_time.GetUtcNow()); // a shorter duplicate-detection window forgets older ids now
        await _metaPump!.CommitAsync();
    }

    public async Task ResetSettings()
    {
        var core = await GetCoreAsync();
        ThrowIfFixed(core);
        core.Settings = new QueueSettingsState();
        core.TrimDedup(_time.GetUtcNow());
        await _metaPump!.CommitAsync();
    }

    public async Task<QueueSettings> GetSettings()
    {
        var core = await GetCoreAsync();
        return core.DeliverySettings.ToPublic();
    }

    private void ThrowIfFixed(QueueCore core)
    {
        if (core.DeliverySettings.IsFixed)
        {
            throw new QueueException(QueueErrorCode.SettingsFixed,
                $"Queue '{QueueName}' was created with fixed settings; they cannot change. Nothing changed. Delete the queue and create it again to change them.");
        }
    }

    private static bool SameSettings(QueueSettingsState a, QueueSettingsState b) =>
        System.Text.Json.JsonSerializer.Serialize(a) == System.Text.Json.JsonSerializer.Serialize(b);

    [LoggerMessage((int)LogEvent.QueueCreated, LogLevel.Information, "Queue {Queue}: created with fixed settings")]
    private partial void LogCreated(string queue);
}
