namespace OrleansQueue.Queues;

/// <summary>
/// Group commit for one storage record: callers change the in-memory state, then await <see cref="CommitAsync"/>.
/// One write runs at a time; every caller that arrived before a write started is released by that write, so many
/// concurrent changes cost one storage write. After a failed write the pump is broken: every waiter, present and
/// future, gets the failure, and the owner reloads state from storage before it makes a new pump.
/// </summary>
/// <remarks>Not thread-safe: it lives on one grain activation's scheduler.</remarks>
internal sealed class CommitPump(Func<Task> write, Action<Exception> onFailure, TimeSpan linger = default)
{
    private readonly List<(long Version, TaskCompletionSource Waiter)> _waiters = [];
    private long _requested;
    private bool _running;
    private Exception? _failure;
    private TaskCompletionSource? _lingering;

    /// <summary>Whether a commit is waiting for its write (lingering or queued behind a running write).</summary>
    public bool Pending => _waiters.Count > 0;

    /// <summary>Completes once every change made before this call is durably written.</summary>
    public Task CommitAsync() => Commit(soon: false);

    /// <summary>
    /// Like <see cref="CommitAsync"/>, for changes no caller is waiting on (completions of pushed messages): when no
    /// write is running, the write starts after the pump's linger, so that such changes made meanwhile share it.
    /// A <see cref="CommitAsync"/> during the linger starts the write at once.
    /// </summary>
    public Task CommitSoonAsync() => Commit(soon: true);

    private Task Commit(bool soon)
    {
        if (_failure is not null)
        {
            return Task.FromException(_failure);
        }

        var waiter = new TaskCompletionSource();
        _waiters.Add((++_requested, waiter));
        if (!_running)
        {
            _ = RunAsync(soon ? linger : TimeSpan.Zero);
        }
        else if (!soon)
        {
            _lingering?.TrySetResult();
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

    private async Task RunAsync(TimeSpan wait)
    {
        System.Diagnostics.Activity.Current = null; // the writes serve every caller, not the one that started the loop
        _running = true;
        try
        {
            if (wait > TimeSpan.Zero)
            {
                // A batching heuristic, not time logic: the real clock, so a fake clock in tests never stalls a write.
                _lingering = new TaskCompletionSource();
                await Task.WhenAny(_lingering.Task, Task.Delay(wait));
                _lingering = null;
            }

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
