using System.Diagnostics;
using OrleansQueue.PostgreSql;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>
/// A private PostgreSQL cluster for a test class: <c>.ci/postgres.sh</c> (installs Debian's postgresql when missing,
/// runs initdb and pg_ctl as the unprivileged 'postgres' user when the tests run as root) on a free 127.0.0.1 port with
/// its data in a temporary folder, with PostgreSQL's default durability, and OrleansQueue's schema applied. Unlike
/// Azurite, PostgreSQL may be killed with SIGKILL (<see cref="KillAsync"/>): what it committed survives.
/// </summary>
public sealed class PostgreSqlFixture : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("orleansqueue-postgres-").FullName;
    private readonly int _port = Loopback.FreePort();

    private PostgreSqlFixture()
    {
    }

    public string ConnectionString { get; private set; } = "";

    public static async Task<PostgreSqlFixture> StartAsync()
    {
        var fixture = new PostgreSqlFixture();
        try
        {
            await fixture.StartServerAsync();
            await PostgreSqlSchema.ApplyAsync(fixture.ConnectionString);
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server again (after <see cref="StopAsync"/> or <see cref="KillAsync"/>); PostgreSQL recovers from its WAL.</summary>
    public async Task StartServerAsync()
    {
        var output = await ScriptAsync("start");
        ConnectionString = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last();
    }

    /// <summary>A clean shutdown (pg_ctl stop -m fast).</summary>
    public Task StopAsync() => ScriptAsync("stop");

    /// <summary>SIGKILL for the server and every process of it, as a crash would: no checkpoint, no clean shutdown.</summary>
    public async Task KillAsync()
    {
        var pidFile = Path.Combine(_dir, "data", "postmaster.pid");
        var postmaster = int.Parse(File.ReadLines(pidFile).First());
        // Its children first (they would exit on their own once the postmaster is gone, but not at once), then itself.
        Run("pkill", "-KILL", "-P", postmaster.ToString());
        Run("kill", "-KILL", postmaster.ToString());
        await Wait.UntilAsync(() => Task.FromResult(Directory.Exists($"/proc/{postmaster}")), alive => !alive, "the killed postmaster is gone");
        await Wait.UntilAsync(() => Task.FromResult(Run("pgrep", "-P", postmaster.ToString())), left => left.Length == 0, "every server process is gone");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"Stopping PostgreSQL in {_dir} failed: {ex.Message}");
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<string> ScriptAsync(string command)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(Repository.Root, ".ci", "postgres.sh"));
        start.ArgumentList.Add(command);
        start.Environment["POSTGRES_DIR"] = _dir;
        start.Environment["POSTGRES_PORT"] = _port.ToString();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10)); // may install the package first
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($".ci/postgres.sh {command} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }

        return await stdout;
    }

    private static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output.Trim();
    }
}
