using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.PostgreSql;

/// <summary>
/// The silo host on PostgreSQL: each usual set-up mistake stops it at once with exit code 1 and one line that names
/// it, and its 'schema' command fixes the missing schema (and can run again).
/// </summary>
public sealed class SiloHostStartupTests
{
    [Fact]
    public async Task AMissingSchema_IsNamed_TheSchemaCommandCreatesIt_Idempotently_AndTheSiloThenStarts()
    {
        await using var postgres = await PostgreSqlFixture.StartAsync(applySchema: false);
        var storage = new[] { "--Storage:Provider=PostgreSql", $"--Storage:ConnectionString={postgres.ConnectionString}" };

        var (code, output) = await RunAsync(storage);
        Assert.Equal(1, code);
        Assert.Contains("The OrleansQueue schema is missing", output);

        for (var run = 0; run < 2; run++)
        {
            (code, output) = await RunAsync(["schema", .. storage]);
            Assert.True(code == 0, output);
            Assert.Contains("The OrleansQueue schema is in place.", output);
        }

        var (siloPort, gatewayPort) = (Loopback.FreePort(), Loopback.FreePort());
        await using var silo = await SiloHostProcess.StartAsync(siloPort, gatewayPort, [.. storage, "--Cluster:Clustering=PostgreSql"]);
    }

    [Fact]
    public async Task RefusedCredentials_AndAnUnreachableServer_AreNamed()
    {
        await using var postgres = await PostgreSqlFixture.StartAsync();
        var wrongPassword = postgres.ConnectionString[..postgres.ConnectionString.IndexOf("Password=", StringComparison.Ordinal)] + "Password=wrong";
        var (code, output) = await RunAsync(["--Storage:Provider=PostgreSql", $"--Storage:ConnectionString={wrongPassword}"]);
        Assert.Equal(1, code);
        Assert.Contains("refused the credentials", output);

        var nobody = $"Host=127.0.0.1;Port={Loopback.FreePort()};Database=orleansqueue;Username=orleansqueue;Password=x";
        (code, output) = await RunAsync(["--Storage:Provider=PostgreSql", $"--Storage:ConnectionString={nobody}"]);
        Assert.Equal(1, code);
        Assert.Contains("cannot be reached", output);

        (code, output) = await RunAsync(["--Storage:Provider=PostgreSql"]); // appsettings.json's Azurite connection string
        Assert.Equal(1, code);
        Assert.Contains("must be a PostgreSQL connection string", output);
    }

    private static async Task<(int Code, string Output)> RunAsync(string[] arguments)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var directory = Path.Combine(Repository.Root, "silo-host", "bin", configuration, "net10.0");
        // A set-up error stops the host at once: a minute is a hang.
        var result = await ChildProcess.RunAsync("dotnet", [Path.Combine(directory, "OrleansQueue.SiloHost.dll"), .. arguments], directory, timeout: TimeSpan.FromMinutes(1));
        return (result.Code, result.Output);
    }
}
