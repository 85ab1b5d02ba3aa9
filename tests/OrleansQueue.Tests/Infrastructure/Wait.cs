namespace OrleansQueue.Tests.Infrastructure;

/// <summary>Waits on a condition instead of sleeping: polls it until it holds or the timeout ends, then fails with a message.</summary>
internal static class Wait
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        T last;
        while (true)
        {
            last = await probe();
            if (condition(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout ?? TimeSpan.FromSeconds(30)} waiting until {what}; last value: {last}");
            }

            await Task.Delay(20);
        }
    }
}
