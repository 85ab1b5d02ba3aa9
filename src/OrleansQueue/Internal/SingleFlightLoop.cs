namespace OrleansQueue.Internal;

/// <summary>
/// A background loop of one grain activation that runs at most once at a time: <see cref="Start"/> runs it unless it
/// is running, <see cref="Signal"/> also makes a running one go round once more when it ends. A run belongs to the
/// activation's generation at its start (<paramref name="generation"/>): once the activation drops its state and the
/// generation changes, <see cref="Reset"/> forgets the run, which ends by itself (its body checks the generation it
/// was given), and a new one may start at once. An exception that escapes the body ends the run and goes to
/// <paramref name="failed"/>; the run's task never faults, so nothing is left unobserved.
/// </summary>
/// <remarks>Not thread-safe: it lives on one grain activation's scheduler, like the state it guards.</remarks>
/// <param name="body">One pass of the loop, given the generation it belongs to.</param>
/// <param name="generation">The activation's current generation.</param>
/// <param name="hasWork">Whether there is anything to do: checked before a run starts and before it goes round again.</param>
/// <param name="failed">What to do with an exception that escaped the body (log it, count it).</param>
/// <param name="stopped">Called when a run of the current generation ended, after <see cref="IsRunning"/> turned false.</param>
internal sealed class SingleFlightLoop(
    Func<int, Task> body,
    Func<int> generation,
    Func<bool> hasWork,
    Action<Exception> failed,
    Action? stopped = null)
{
    private bool _running;
    private bool _again;

    /// <summary>Whether a run of the current generation is under way.</summary>
    public bool IsRunning => _running;

    /// <summary>The last run started (completed when none ran yet); it never faults. For tests and shutdown.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Starts a run when there is work and none is running.</summary>
    public void Start() => Run(again: false);

    /// <summary>Like <see cref="Start"/>, and a run under way goes round once more when its pass ends.</summary>
    public void Signal() => Run(again: true);

    /// <summary>Forgets the run under way (the activation's generation changed): the next start begins a new one.</summary>
    public void Reset()
    {
        _running = false;
        _again = false;
    }

    private void Run(bool again)
    {
        if (_running)
        {
            _again |= again;
            return;
        }

        if (!hasWork())
        {
            return;
        }

        _running = true;
        Completion = RunAsync(generation());
    }

    private async Task RunAsync(int runGeneration)
    {
        try
        {
            do
            {
                _again = false;
                await body(runGeneration);
            }
            while (_again && runGeneration == generation() && hasWork());
        }
        catch (Exception ex)
        {
            Report(ex);
        }

        if (runGeneration == generation())
        {
            _running = false;
            try
            {
                stopped?.Invoke();
            }
            catch (Exception ex)
            {
                Report(ex);
            }
        }
    }

    private void Report(Exception exception)
    {
        try
        {
            failed(exception);
        }
        catch
        {
            // The handler failed in turn (a logger threw): the run has ended either way, and its task must not fault.
        }
    }
}
