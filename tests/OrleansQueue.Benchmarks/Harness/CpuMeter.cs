using System.Diagnostics;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>
/// CPU time over one workload: of the system's server processes (<see cref="IBenchTarget.ServerProcessIds"/>) and of
/// this process (producer and consumer clients), per message. On a 2-core machine a workload that runs the cores full
/// is as fast as its CPU per message allows, and a paced one waits behind whatever else is runnable.
/// </summary>
public sealed class CpuMeter
{
    private readonly IReadOnlyList<int> _server;
    private readonly TimeSpan? _serverStart;
    private readonly TimeSpan _clientStart;

    private CpuMeter(IReadOnlyList<int> server)
    {
        _server = server;
        _serverStart = Total(server);
        _clientStart = Process.GetCurrentProcess().TotalProcessorTime;
    }

    public static CpuMeter Start(IBenchTarget target) => new(target.ServerProcessIds());

    /// <summary>Microseconds of CPU per message since the start: the server's (null if one of its processes is gone or none is known) and this process's.</summary>
    public (double? Server, double Client) PerMessage(int messages)
    {
        var client = Process.GetCurrentProcess().TotalProcessorTime - _clientStart;
        var server = _serverStart is { } start && Total(_server) is { } end ? end - start : (TimeSpan?)null;
        var n = Math.Max(1, messages);
        return (server?.TotalMicroseconds / n, client.TotalMicroseconds / n);
    }

    private static TimeSpan? Total(IReadOnlyList<int> pids)
    {
        if (pids.Count == 0)
        {
            return null;
        }

        var total = TimeSpan.Zero;
        foreach (var pid in pids)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                total += process.TotalProcessorTime;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                return null; // exited
            }
        }

        return total;
    }
}
