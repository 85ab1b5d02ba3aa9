using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansQueue.Hosting;
using OrleansQueue.Options;

namespace OrleansQueue.Tests.Unit;

public sealed class HostingTests
{
    [Fact]
    public void Options_BindFromConfiguration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OrleansQueue:StorageName"] = "orders-store",
            ["OrleansQueue:SegmentMaxMessages"] = "64",
            ["OrleansQueue:DefaultLockDuration"] = "00:01:00",
            ["OrleansQueue:DuplicateDetectionWindow"] = "00:30:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddOrleansQueue();
        services.Configure<OrleansQueueOptions>(configuration.GetSection(OrleansQueueOptions.SectionName));

        var options = services.BuildServiceProvider().GetRequiredService<IOptions<OrleansQueueOptions>>().Value;
        Assert.Equal(("orders-store", 64, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(30)),
            (options.StorageName, options.SegmentMaxMessages, options.DefaultLockDuration, options.DuplicateDetectionWindow));
    }

    [Fact]
    public void AddingTwice_RegistersTheValidatorOnce()
    {
        var services = new ServiceCollection();
        services.AddOrleansQueue().AddOrleansQueue(o => o.ActiveSegments = 4);
        Assert.Single(services, d => d.ImplementationType == typeof(OrleansQueueOptionsValidator));
        Assert.Equal(4, services.BuildServiceProvider().GetRequiredService<IOptions<OrleansQueueOptions>>().Value.ActiveSegments);
        Assert.Single(services, d => d.ServiceType == typeof(IConfigurationValidator));
    }
}
