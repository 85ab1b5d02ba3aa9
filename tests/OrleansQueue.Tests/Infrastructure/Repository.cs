namespace OrleansQueue.Tests.Infrastructure;

/// <summary>Where the repository is, for tests that run its scripts or pack its projects.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansQueue.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"OrleansQueue.sln not found above {AppContext.BaseDirectory}");
    }
}
