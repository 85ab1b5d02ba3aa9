namespace OrleansQueue.Internal;

/// <summary>
/// Group commit for one storage record: callers change the in-memory state, then await <see cref="CommitAsync"/>.
/// One write runs at a time; every caller that arrived before a write started is released by that write, so many
/// concurrent changes cost one storage write. After a failed write the pump is broken: every waiter, present and
/// future, gets the failure, and the owner reloads state from storage before it makes a new pump.
/// </summary>
/// <remarks>Not thread-safe: it lives on one grain activation's scheduler.</remarks>
internal sealed class CommitPump(Func<Task> write, Action<Exception> onFailure)
{
    private readonly List<(long Version, TaskCompletionSource Waiter)> _waiters = [];
    private long _requested;
    private bool _running;
    private Exception? _failure;

    /// <summary>Completes once every change made before this call is durably written.</summary>
    public Task CommitAsync()
    {
        if (_failure is not null)
        {
            return Task.FromException(_failure);
        }

        var waiter = new TaskCompletionSource();
        _waiters.Add((++_requested, waiter));
        if (!_running)
        {
            _ = RunAsync();
        }

        return waiter.Task;
    }

    /// <summary>Fails every waiter and refuses further commits.</summary>
    public void Break(Exception failure)
    {
        if (_failure is not null)
        {
            return;
        }

        _failure = failure;
        var waiters = _waiters.ToArray();
        _waiters.Clear();
        foreach (var (_, waiter) in waiters)
        {
            waiter.TrySetException(failure);
        }
    }

    private async Task RunAsync()
    {
        _running = true;
        try
        {
            while (_failure is null && _waiters.Count > 0)
            {
                var target = _requested;
                try
                {
                    await write();
                }
                catch (Exception ex)
                {
                    onFailure(ex); // the owner breaks this pump with the error its callers should see
                    Break(ex);
                    return;
                }

                if (_failure is not null)
                {
                    return;
                }

                var released = _waiters.TakeWhile(w => w.Version <= target).ToArray();
                _waiters.RemoveRange(0, released.Length);
                foreach (var (_, waiter) in released)
                {
                    waiter.TrySetResult();
                }
            }
        }
        finally
        {
            _running = false;
        }
    }
}
