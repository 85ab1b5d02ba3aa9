using System.IO.Compression;
using System.Xml.Linq;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Packaging;

/// <summary>
/// Packs every library under src/ into a local folder and builds and runs a small app that references only those
/// packages (not the projects), so a package with a missing dependency, file or type fails here, not for a user.
/// </summary>
[Trait("Category", "Packaging")]
public sealed class PackageTests
{
    private static readonly string[] Packages = ["OrleansQueue.Abstractions", "OrleansQueue.Client", "OrleansQueue", "OrleansQueue.AzureStorage", "OrleansQueue.PostgreSql", "OrleansQueue.TestKit"];

    [Fact]
    public async Task ThePackedLibraries_BuildAndRunAnAppThatReferencesOnlyThePackages()
    {
        var root = Repository.Root;
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var work = Directory.CreateTempSubdirectory("oq-packages-").FullName;
        try
        {
            var version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..8];
            var feed = Path.Combine(work, "feed");
            foreach (var package in Packages)
            {
                // --no-build: the test run has just built the solution in this configuration.
                await DotnetAsync(root, "pack", Path.Combine("src", package, package + ".csproj"), "-c", configuration, "--no-build", "-o", feed, "-p:Version=" + version, "--nologo");
            }

            foreach (var package in Packages)
            {
                AssertPackageMetadata(Path.Combine(feed, $"{package}.{version}.nupkg"), package);
                Assert.True(File.Exists(Path.Combine(feed, $"{package}.{version}.snupkg")), $"{package} has no symbol package");
            }

            var app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            WriteApp(app, feed, version, Path.Combine(work, "packages"));
            await DotnetAsync(app, "build", "-c", "Release", "--nologo");
            var output = await DotnetAsync(app, "run", "-c", "Release", "--no-build");
            Assert.Contains("packaged queue ok", output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void AssertPackageMetadata(string nupkg, string id)
    {
        Assert.True(File.Exists(nupkg), $"{id} was not packed ({nupkg} is missing)");
        using var zip = ZipFile.OpenRead(nupkg);
        var nuspec = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open());
        var metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("README.md", Field("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Field("description")), $"{id} has no description");
        Assert.NotNull(zip.GetEntry("README.md"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml")); // the API documentation travels with the package
    }

    private static void WriteApp(string app, string feed, string version, string packagesFolder)
    {
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        // The app's own packages folder, so the test packages never enter the user's cache; everything else is found
        // in the user's cache first (a fallback folder) and only then downloaded.
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{packagesFolder}" />
              </config>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="user" value="{globalPackages}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "PackagedApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <NoWarn>NU1603</NoWarn>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="OrleansQueue.Client" Version="{version}" />
                <PackageReference Include="OrleansQueue.AzureStorage" Version="{version}" />
                <PackageReference Include="OrleansQueue.PostgreSql" Version="{version}" />
                <PackageReference Include="OrleansQueue.TestKit" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using OrleansQueue;
            using OrleansQueue.Options;
            using OrleansQueue.PostgreSql;
            using OrleansQueue.TestKit;

            // A silo with OrleansQueue on memory storage and a fake clock, from the test kit.
            await using var cluster = await OrleansQueueTestCluster.StartAsync(o => o.ConfigureQueues = q => q.DefaultLockDuration = TimeSpan.FromSeconds(30));
            QueueClient queue = cluster.GetQueue("packaged");
            await queue.SendAsync("hello from a package");

            var first = (await queue.ReceiveAsync(1)).Single();
            cluster.Time.Advance(TimeSpan.FromSeconds(31)); // the lock runs out: delivered again
            var again = (await queue.ReceiveAsync(1)).Single();
            if (again.Message.BodyAsString() != "hello from a package" || again.Message.DeliveryCount != 2 || again.LockToken == first.LockToken)
            {
                Console.Error.WriteLine($"unexpected delivery: {again}");
                return 1;
            }

            await queue.CompleteAsync(again);
            var stats = await queue.GetStatsAsync();
            Console.WriteLine(stats.ActiveCount == 0 ? $"packaged queue ok ({QueueStorageEncoding.Binary} encoding, PostgreSQL schema of {PostgreSqlSchema.Script.Length} characters)" : $"not completed: {stats}");
            return stats.ActiveCount == 0 ? 0 : 1;
            """);
    }

    private static async Task<string> DotnetAsync(string directory, params string[] arguments)
    {
        // The test host runs under 'dotnet test', whose MSBuild settings must not leak into a separate build.
        var result = await ChildProcess.RunAsync("dotnet", arguments, directory,
            new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" },
            removeEnvironmentPrefixes: ["MSBuild"]);
        Assert.True(result.Code == 0, $"'dotnet {string.Join(' ', arguments)}' in {directory} failed ({result.Code}):\n{result.Output}");
        return result.Output;
    }
}
