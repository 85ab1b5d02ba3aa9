using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Durability;

/// <summary>The durability scenarios of the Azure storage tests, on PostgreSQL, where the database may also crash.</summary>
public sealed class PostgreSqlDurabilityTests : IAsyncLifetime
{
    private PostgreSqlFixture _postgres = null!;

    public async Task InitializeAsync() => _postgres = await PostgreSqlFixture.StartAsync();

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    [Theory]
    [InlineData(QueueStorageEncoding.Binary, true)]
    [InlineData(QueueStorageEncoding.Json, false)]
    public Task AfterASiloCrashAndADatabaseCrash_EveryConfirmedMessageIsThere_InOrder_AndOpenLocksAreRedelivered(QueueStorageEncoding encoding, bool crash) =>
        Recovery.RunAsync(new StorageSetup(StorageKind.PostgreSql, _postgres.ConnectionString) { Encoding = encoding }, crash, async () =>
        {
            // With crash: the database is SIGKILLed too (no checkpoint); it recovers from its write-ahead log.
            if (crash)
            {
                await _postgres.KillAsync();
            }
            else
            {
                await _postgres.StopAsync();
            }

            await _postgres.StartServerAsync();
        });

    [Fact]
    public Task BatchesOfLargestMessages_AreStored_AndReadBackAfterAReload() =>
        LargeMessages.RunAsync(new StorageSetup(StorageKind.PostgreSql, _postgres.ConnectionString));
}
