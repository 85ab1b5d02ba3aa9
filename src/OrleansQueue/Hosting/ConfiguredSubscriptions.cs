using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansQueue.Diagnostics;
using OrleansQueue.Options;

namespace OrleansQueue.Hosting;

/// <summary>Subscribes the consumers named in <see cref="OrleansQueueOptions.Subscriptions"/> once the silo is active.</summary>
internal sealed partial class ConfiguredSubscriptions(IOptions<OrleansQueueOptions> options, IGrainFactory grains, ILogger<ConfiguredSubscriptions> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ConfiguredSubscriptions), ServiceLifecycleStage.Active, SubscribeAllAsync, _ => Task.CompletedTask);

    private async Task SubscribeAllAsync(CancellationToken cancellationToken)
    {
        foreach (var subscription in options.Value.Subscriptions)
        {
            await grains.GetGrain<IQueueGrain>(subscription.Queue).Subscribe(
                GrainId.Parse(subscription.Consumer),
                new ConsumerOptions
                {
                    Prefetch = subscription.Prefetch,
                    AutoComplete = subscription.AutoComplete,
                    MaxConcurrentCalls = subscription.MaxConcurrentCalls,
                    MaxAutoLockRenewalDuration = subscription.MaxAutoLockRenewalDuration,
                }).WaitAsync(cancellationToken);
            LogSubscribed(subscription.Consumer, subscription.Queue);
        }
    }

    [LoggerMessage((int)LogEvent.ConfiguredSubscription, LogLevel.Information, "Subscribed {Consumer} to queue {Queue} from configuration")]
    private partial void LogSubscribed(string consumer, string queue);
}
