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
    public async Task Configure(QueueSettings settings)
    {
        DeliverySettings.Validate(settings, _options.MaxLockDuration, _options.MaxQueueLength);
        var core = await GetCoreAsync();
        core.Settings = core.DeliverySettings.Merge(settings);
        core.TrimDedup(_time.GetUtcNow()); // a shorter duplicate-detection window forgets older ids now
        await _metaPump!.CommitAsync();
    }

    public async Task ResetSettings()
    {
        var core = await GetCoreAsync();
        core.Settings = new QueueSettingsState();
        core.TrimDedup(_time.GetUtcNow());
        await _metaPump!.CommitAsync();
    }

    public async Task<QueueSettings> GetSettings()
    {
        var core = await GetCoreAsync();
        return core.DeliverySettings.ToPublic();
    }
}
