namespace OrleansQueue.Tests.Infrastructure;

/// <summary>A test class with its own Azurite, started with the class instance and stopped gracefully after each test.</summary>
public abstract class AzuriteTest : IAsyncLifetime
{
    protected AzuriteFixture Azurite { get; } = new();

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync() => await Azurite.DisposeAsync();
}
