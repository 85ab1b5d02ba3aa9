using Microsoft.Extensions.DependencyInjection;

namespace OrleansQueue;

/// <summary>Adds OrleansQueue's client support to an Orleans client.</summary>
public static class OrleansQueueClientBuilderExtensions
{
    /// <summary>
    /// Lets queue handles fail over at once when a gateway connection of this client closes (a silo crashed, say),
    /// instead of waiting out Orleans' response timeout: sends are retried with their message ids and receives made
    /// again as soon as a gateway answers. Call it once in <c>UseOrleansClient(client => client.AddOrleansQueueClient())</c>.
    /// </summary>
    public static IClientBuilder AddOrleansQueueClient(this IClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Services.Any(s => s.ServiceType == typeof(QueueConnectionMonitor)))
        {
            return builder;
        }

        builder.Services.AddSingleton<QueueConnectionMonitor>();
        return builder.AddGatewayCountChangedHandler(services => services.GetRequiredService<QueueConnectionMonitor>().OnGatewayCountChanged);
    }
}
