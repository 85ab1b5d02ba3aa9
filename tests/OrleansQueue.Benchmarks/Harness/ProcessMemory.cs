namespace OrleansQueue.Benchmarks.Harness;

/// <summary>Peak resident memory (VmHWM) of processes, read from /proc (Linux).</summary>
public static class ProcessMemory
{
    /// <summary>The peak resident memory of one process, or null when it is not visible.</summary>
    public static long? Peak(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The sum of the peaks of every process in the session <paramref name="sessionId"/> (a server started with setsid).</summary>
    public static long? PeakOfSession(int sessionId)
    {
        long total = 0;
        var found = false;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid pgrp session ..."; comm may contain spaces, so parse after ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[3]) == sessionId && Peak(pid) is { } peak)
                {
                    total += peak;
                    found = true;
                }
            }
            catch (IOException)
            {
            }
        }

        return found ? total : null;
    }
}
