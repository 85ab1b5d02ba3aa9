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

    public CpuMeter(IReadOnlyList<int> server)
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
            if (ProcessTree.CpuTime(pid) is not { } time)
            {
                return null; // exited
            }

            total += time;
        }

        return total;
    }
}

/// <summary>
/// CPU time of a process and everything it started, from /proc (Linux): its own, its reaped children's (which the
/// kernel adds to it when they exit), and its live descendants'. A PostgreSQL server runs a process per connection
/// and starts and reaps workers as it goes; the total of its tree never goes down.
/// </summary>
public static class ProcessTree
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on Linux

    /// <summary>The tree's CPU time, or null when the process is gone.</summary>
    public static TimeSpan? CpuTime(int pid)
    {
        var stats = new Dictionary<int, (int Parent, long Own, long Children)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var id) && Read(id) is { } stat)
            {
                stats[id] = stat;
            }
        }

        if (!stats.TryGetValue(pid, out var root))
        {
            return null;
        }

        var ticks = root.Own + root.Children;
        var pending = new Stack<int>([pid]);
        while (pending.TryPop(out var parent))
        {
            foreach (var (id, stat) in stats)
            {
                if (stat.Parent == parent && id != pid)
                {
                    ticks += stat.Own + stat.Children;
                    pending.Push(id);
                }
            }
        }

        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>ppid, utime+stime and cutime+cstime of /proc/&lt;pid&gt;/stat (fields 4, 14-15 and 16-17).</summary>
    private static (int Parent, long Own, long Children)? Read(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state)
            return (int.Parse(fields[1]), long.Parse(fields[11]) + long.Parse(fields[12]), long.Parse(fields[13]) + long.Parse(fields[14]));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
