using System.Diagnostics;
using System.Text;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>The real silo host (silo-host/) as a child process, configured through its command line.</summary>
public sealed class SiloHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloHostProcess(Process process, int gatewayPort)
    {
        _process = process;
        GatewayPort = gatewayPort;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int GatewayPort { get; }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static Task<SiloHostProcess> StartAsync(int siloPort, int gatewayPort, params string[] settings)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var directory = Path.Combine(Repository.Root, "silo-host", "bin", configuration, "net10.0");
        return StartAsync(Path.Combine(directory, "OrleansQueue.SiloHost.dll"), gatewayPort,
            [$"--Cluster:SiloPort={siloPort}", $"--Cluster:GatewayPort={gatewayPort}", "--Logging:LogLevel:Default=Warning", .. settings]);
    }

    /// <summary>Runs <paramref name="dll"/> with <paramref name="arguments"/> and waits until it accepts connections on <paramref name="gatewayPort"/>.</summary>
    public static async Task<SiloHostProcess> StartAsync(string dll, int gatewayPort, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var host = new SiloHostProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"), gatewayPort);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!await Loopback.CanConnectAsync(gatewayPort))
        {
            if (host._process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{Path.GetFileName(dll)} did not open its gateway on {gatewayPort}:\n{host.Output}");
            }

            await Task.Delay(100);
        }

        return host;
    }

    /// <summary>Sends SIGTERM (as Ctrl-C or a container stop would) and waits for a clean exit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }


    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

}
