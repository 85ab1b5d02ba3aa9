using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansQueue;

// The queue itself: settings, creation, purge, delete, stats.
public sealed partial class QueueClient
{
    /// <summary>
    /// Changes the settings that <paramref name="settings"/> sets (lock duration, maximum deliveries, redelivery policy,
    /// fail-fast exceptions) and leaves the others as they are; stored with the queue.
    /// </summary>
    public Task ConfigureAsync(QueueSettings settings, CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.Configure(settings ?? throw new ArgumentNullException(nameof(settings))), cancellationToken);

    /// <summary>Returns every setting of the queue to the silo's defaults, which then follow the silo's configuration.</summary>
    public Task ResetSettingsAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Grain.ResetSettings(), cancellationToken);

    /// <summary>Returns the queue's effective settings.</summary>
    public Task<QueueSettings> GetSettingsAsync(CancellationToken cancellationToken = default) => CallAsync(() => Grain.GetSettings(), cancellationToken);
    /// <summary>
    /// Removes every message in the queue; returns how many were removed. A purge is never made twice by the client:
    /// one cut off by a lost gateway connection throws <see cref="TimeoutException"/> at once (its outcome is unknown),
    /// as a second purge would remove messages sent after the first.
    /// </summary>
    public Task<long> PurgeAsync(CancellationToken cancellationToken = default) =>
        CallNeverRepeatedAsync(Grain.Purge, $"The gateway connection was lost while purging queue '{Name}'; the purge may or may not have run. Check the queue's stats before purging again.", cancellationToken);

    /// <summary>
    /// Deletes the queue and every record of it in storage, and returns how many messages it held; its dead letters
    /// stay. Sending to the name afterwards starts a new empty queue (see <see cref="IQueueGrain.Delete"/>).
    /// </summary>
    /// <exception cref="TimeoutException">The gateway connection was lost: the delete may or may not have run, and runs to its end if it started. Deleting again is safe.</exception>
    public Task<long> DeleteAsync(CancellationToken cancellationToken = default) =>
        CallNeverRepeatedAsync(Grain.Delete, $"The gateway connection was lost while deleting queue '{Name}'; the delete may or may not have run. Deleting again is safe.", cancellationToken);
    /// <summary>
    /// Creates the queue with settings fixed for its lifetime (see <see cref="IQueueGrain.Create"/>): settings left null
    /// take the silo's defaults of now. Creating it again with the same settings is a no-op, so a retry is safe.
    /// </summary>
    /// <exception cref="QueueException"><see cref="QueueErrorCode.QueueAlreadyExists"/> when the queue exists with other settings or holds messages.</exception>
    public Task CreateAsync(QueueSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return CallAsync(() => Grain.Create(settings), cancellationToken);
    }

    /// <summary>Returns the queue's counters.</summary>
    public Task<QueueStats> GetStatsAsync(CancellationToken cancellationToken = default) => CallAsync(() => Grain.GetStats(), cancellationToken);
}
