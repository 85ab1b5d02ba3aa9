using System.Diagnostics;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>
/// Runs the Azurite emulator from the repository's node_modules on free loopback ports with its data in a temporary
/// folder, and stops it gracefully (SIGTERM; Azurite saves its tables on close) so restarts keep the data.
/// </summary>
public sealed class AzuriteFixture : IAsyncDisposable, IDisposable
{
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly string _dataDir = Directory.CreateTempSubdirectory("orleansqueue-azurite-").FullName;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();
    private readonly bool _inMemoryPersistence;
    private int _blobPort = Loopback.FreePort();
    private int _queuePort = Loopback.FreePort();
    private int _tablePort = Loopback.FreePort();
    private Process? _process;
    private int _closedServices;

    public AzuriteFixture()
        : this(inMemoryPersistence: false)
    {
    }

    /// <summary>
    /// With <paramref name="inMemoryPersistence"/> Azurite keeps its data in memory only: Azurite's disk persistence
    /// serializes the whole table database into one JSON string, which fails past a few hundred MB (a million-message
    /// backlog). Restarts then lose the data, so only the benchmark uses it.
    /// </summary>
    public AzuriteFixture(bool inMemoryPersistence)
    {
        _inMemoryPersistence = inMemoryPersistence;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                StartAsync().GetAwaiter().GetResult();
                return;
            }
            catch (InvalidOperationException) when (attempt < 3 && HasExited)
            {
                // A free port was taken between choosing it and Azurite binding it (tests start Azurites in
                // parallel): nobody has these ports yet, so choose others and start again.
                (_blobPort, _queuePort, _tablePort) = (Loopback.FreePort(), Loopback.FreePort(), Loopback.FreePort());
            }
        }
    }

    /// <summary>The Azurite (node) process id, once started.</summary>
    public int? Pid => _process?.Id;

    /// <summary>Whether the Azurite process ended on its own (it runs out of heap with millions of table rows, say).</summary>
    public bool HasExited => _process is { HasExited: true };

    /// <summary>The last lines Azurite wrote (standard output and error).</summary>
    public string LastErrors => string.Join(Environment.NewLine, _errors);

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{_blobPort}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{_queuePort}/devstoreaccount1;" +
        $"TableEndpoint=http://127.0.0.1:{_tablePort}/devstoreaccount1;";

    public async Task StartAsync()
    {
        var root = Repository.Root;
        var azurite = Path.Combine(root, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed ({azurite} is missing): run 'npm ci' in {root}, or the README's test command.");
        }

        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            // --silent: no access log line per request (at benchmark rates that costs Azurite, and this process, CPU).
            // --disableTelemetry: otherwise Azurite collects telemetry, holds connections open to an address it cannot
            // reach here, and takes up to two minutes to exit after SIGTERM.
            azurite, "--skipApiVersionCheck", "--silent", "--disableTelemetry",
            "--blobHost", "127.0.0.1", "--blobPort", $"{_blobPort}",
            "--queueHost", "127.0.0.1", "--queuePort", $"{_queuePort}",
            "--tableHost", "127.0.0.1", "--tablePort", $"{_tablePort}",
        })
        {
            start.ArgumentList.Add(arg);
        }

        if (_inMemoryPersistence)
        {
            start.ArgumentList.Add("--inMemoryPersistence");
        }
        else
        {
            start.ArgumentList.Add("--location");
            start.ArgumentList.Add(_dataDir);
        }

        _closedServices = 0;
        _process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("successfully closed", StringComparison.Ordinal) == true)
            {
                Interlocked.Increment(ref _closedServices);
            }

            Remember(e.Data);
        };
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        foreach (var port in new[] { _blobPort, _queuePort, _tablePort })
        {
            while (!await Loopback.CanConnectAsync(port))
            {
                if (_process.HasExited || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"Azurite did not listen on 127.0.0.1:{port} (exited: {_process.HasExited}):\n{LastErrors}");
                }

                await Task.Delay(50);
            }
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        _errors.Enqueue(line);
        while (_errors.Count > 20 && _errors.TryDequeue(out string? _))
        {
        }
    }

    /// <summary>SIGTERM, then wait until all three services report closed (their data saved) or the process exits.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        if (!process.HasExited)
        {
            SendSigterm(process.Id);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!process.HasExited && Volatile.Read(ref _closedServices) < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        process.Dispose();
    }

    /// <summary>Whether Azurite has saved its table metadata with <paramref name="text"/> in it (it saves every few seconds).</summary>
    public bool SavedTablesContain(string text) =>
        Directory.EnumerateFiles(_dataDir, "__azurite_db_table__*").Any(f => File.ReadAllText(f).Contains(text, StringComparison.Ordinal));

    /// <summary>SIGKILL: Azurite loses what it had not yet saved (it saves tables every few seconds).</summary>
    public async Task KillAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static void SendSigterm(int pid)
    {
        using var kill = Process.Start("kill", ["-TERM", pid.ToString()]);
        kill.WaitForExit();
    }


}
