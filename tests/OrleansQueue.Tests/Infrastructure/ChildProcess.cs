using System.Diagnostics;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>What a program printed and how it ended.</summary>
internal sealed record ChildProcessResult(int Code, string StandardOutput, string StandardError)
{
    /// <summary>Everything it printed: standard output, then standard error.</summary>
    public string Output => StandardOutput + StandardError;
}

/// <summary>Runs a program to its end and returns its exit code and what it printed.</summary>
internal static class ChildProcess
{
    public static async Task<ChildProcessResult> RunAsync(string file, IEnumerable<string> arguments, string? directory = null,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null, IEnumerable<string>? removeEnvironmentPrefixes = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (directory is not null)
        {
            start.WorkingDirectory = directory;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var prefix in removeEnvironmentPrefixes ?? [])
        {
            foreach (var name in start.Environment.Keys.Where(k => k.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToList())
            {
                start.Environment.Remove(name);
            }
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        using var cut = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cut.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{file} {string.Join(' ', start.ArgumentList)}' did not exit within {limit}.");
        }

        return new ChildProcessResult(process.ExitCode, await stdout, await stderr);
    }
}
