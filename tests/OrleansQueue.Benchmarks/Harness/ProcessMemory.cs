namespace OrleansQueue.Benchmarks.Harness;

/// <summary>Peak resident memory (VmHWM) of a process, read from /proc (Linux).</summary>
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
}
