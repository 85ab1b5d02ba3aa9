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

    /// <summary>Starts a server; with <paramref name="applySchema"/> (the default) OrleansQueue's schema is created too.</summary>
    public static async Task<PostgreSqlFixture> StartAsync(bool applySchema = true)
    {
        var fixture = new PostgreSqlFixture();
        try
        {
            await fixture.StartServerAsync();
            if (applySchema)
            {
                await PostgreSqlSchema.ApplyAsync(fixture.ConnectionString);
            }

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
        await RunAsync("pkill", "-KILL", "-P", postmaster.ToString());
        await RunAsync("kill", "-KILL", postmaster.ToString());
        await Wait.UntilAsync(() => Task.FromResult(Directory.Exists($"/proc/{postmaster}")), alive => !alive, "the killed postmaster is gone");
        await Wait.UntilAsync(() => RunAsync("pgrep", "-P", postmaster.ToString()), left => left.Length == 0, "every server process is gone");
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
        // May install the package first: minutes, not seconds.
        var result = await ChildProcess.RunAsync("bash", [Path.Combine(Repository.Root, ".ci", "postgres.sh"), command],
            environment: new Dictionary<string, string> { ["POSTGRES_DIR"] = _dir, ["POSTGRES_PORT"] = _port.ToString() },
            timeout: TimeSpan.FromMinutes(10));
        return result.Code == 0 ? result.StandardOutput : throw new InvalidOperationException($".ci/postgres.sh {command} failed ({result.Code}): {result.Output}");
    }

    private static async Task<string> RunAsync(string file, params string[] arguments) =>
        (await ChildProcess.RunAsync(file, arguments, timeout: TimeSpan.FromSeconds(30))).StandardOutput.Trim();
}
