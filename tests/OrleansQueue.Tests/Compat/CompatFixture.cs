using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Compat;

/// <summary>
/// One stored-data fixture: what a commit of OrleansQueue left in Azure storage after <see cref="CompatFixtureWriter"/>'s
/// scenario (<see cref="Storage"/>, a full dump), how to reach it (service id, provider, encoding, silo options, the
/// grains' clock), and what the scenario did, for the reader to expect (<see cref="Expected"/>). Plain records of our
/// own, never OrleansQueue's internal types, so the fixture outlives any refactoring of them.
/// </summary>
public sealed record CompatFixture
{
    public const int CurrentFormat = 1;

    /// <summary>The fixtures, named by provider and encoding.</summary>
    public static readonly IReadOnlyList<(StorageKind Kind, QueueStorageEncoding Encoding)> Combinations =
    [
        (StorageKind.AzureTable, QueueStorageEncoding.Binary),
        (StorageKind.AzureTable, QueueStorageEncoding.Json),
        (StorageKind.AzureBlob, QueueStorageEncoding.Binary),
        (StorageKind.AzureBlob, QueueStorageEncoding.Json),
    ];

    public static string FileName(StorageKind kind, QueueStorageEncoding encoding) => $"{kind}-{encoding}.json.gz";

    /// <summary>The fixture files as the build copies them next to the test assembly.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Compat", "Fixtures");

    public int Format { get; init; } = CurrentFormat;

    /// <summary>The commit whose code wrote the data (the last one that changed src/ when the writer ran).</summary>
    public required string WrittenBy { get; init; }

    public required StorageKind Provider { get; init; }

    public required QueueStorageEncoding Encoding { get; init; }

    public required string ServiceId { get; init; }

    /// <summary>The Azure table or blob container name the provider was given.</summary>
    public required string Location { get; init; }

    /// <summary>The grains' clock when the data was dumped: the reader's clock starts here, so stored locks are still open.</summary>
    public required DateTimeOffset Clock { get; init; }

    public required CompatSiloOptions SiloOptions { get; init; }

    public required CompatExpectations Expected { get; init; }

    public required StorageDump Storage { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Indented JSON (gzipped when the path ends in <c>.gz</c>).</summary>
    public async Task SaveAsync(string path)
    {
        await using var file = File.Create(path);
        await using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionLevel.SmallestSize) : file;
        await JsonSerializer.SerializeAsync(stream, this, Json);
    }

    public static async Task<CompatFixture> LoadAsync(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The compatibility fixture {path} is missing: see tests/OrleansQueue.Tests/Compat/Fixtures/README.md to write it.", path);
        }

        await using var file = File.OpenRead(path);
        await using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        var fixture = await JsonSerializer.DeserializeAsync<CompatFixture>(stream, Json) ?? throw new InvalidDataException($"{path} is empty.");
        if (fixture.Format != CurrentFormat)
        {
            throw new InvalidDataException($"{path} has fixture format {fixture.Format}; this reader knows {CurrentFormat}.");
        }

        return fixture;
    }
}

/// <summary>The silo options the writer ran with that shape stored records (segment and dead-letter segment sizes).</summary>
public sealed record CompatSiloOptions(int SegmentMaxMessages, int SegmentChunkMessages, int ActiveSegments, int DeadLetterSegmentMaxEntries)
{
    public void Apply(OrleansQueueOptions options)
    {
        options.SegmentMaxMessages = SegmentMaxMessages;
        options.SegmentChunkMessages = SegmentChunkMessages;
        options.ActiveSegments = ActiveSegments;
        options.DeadLetters.SegmentMaxEntries = DeadLetterSegmentMaxEntries;
    }
}

/// <summary>What the writer's scenario left behind.</summary>
public sealed record CompatExpectations
{
    /// <summary>The pull queue: segments, completions, open locks, dead letters, a pending move.</summary>
    public required string MainQueue { get; init; }

    public required CompatSettings MainSettings { get; init; }

    public required long MainTotalEnqueued { get; init; }

    public required long MainTotalCompleted { get; init; }

    /// <summary>Moved to the dead-letter grain once the pending moves are done (pending ones included).</summary>
    public required long MainTotalDeadLettered { get; init; }

    /// <summary>Ready at the dump, in sequence order: what a receive drains before any lock ends.</summary>
    public required List<CompatMessage> Ready { get; init; }

    /// <summary>Locked at the dump (long locks, delivered once), in sequence order: delivered again once their locks end.</summary>
    public required List<CompatMessage> Locked { get; init; }

    /// <summary>Messages whose move to the dead-letter grain was stored but not done (the dead-letter store failed).</summary>
    public required List<CompatDeadLetter> PendingMoves { get; init; }

    /// <summary>Entries in the dead-letter grain at the dump (from both queues), in entry order.</summary>
    public required List<CompatDeadLetter> DeadLetters { get; init; }

    /// <summary>A message id still within duplicate detection at the dump, and the sequence number it was stored with.</summary>
    public required CompatMessage Duplicate { get; init; }

    /// <summary>The push queue: a grain consumer subscribed, its failed deliveries waiting out a redelivery delay.</summary>
    public required string PushQueue { get; init; }

    public required CompatSettings PushSettings { get; init; }

    /// <summary>The subscribed consumer's grain id (<c>type/key</c>) and subscription options.</summary>
    public required CompatSubscription Subscription { get; init; }

    public required long PushTotalCompleted { get; init; }

    /// <summary>Failed once by the consumer, waiting out the push queue's redelivery delay at the dump, in sequence order.</summary>
    public required List<CompatMessage> PushDelayed { get; init; }
}

/// <summary>A message as a receive or push shows it (the delivery count of that delivery).</summary>
public sealed record CompatMessage(long Seq, string Id, string Body, string? ContentType, Dictionary<string, string>? Headers, int DeliveryCount, DateTimeOffset EnqueuedTime);

/// <summary>A dead-letter entry as browsing shows it; <see cref="Attempts"/> is how many delivery attempts it lists.</summary>
public sealed record CompatDeadLetter(
    string SourceQueue, string MessageId, long Seq, string Body, DeadLetterReason Reason, string? Description, string? ExceptionType, string? ExceptionMessage,
    int DeliveryCount, int Attempts, DateTimeOffset DeadLetteredAt)
{
    public static CompatDeadLetter From(DeadLetterEntry e) => new(e.SourceQueue, e.Message.MessageId, e.Message.SequenceNumber, e.Message.BodyAsString(),
        e.Reason, e.Description, e.LastExceptionType, e.LastExceptionMessage, e.Message.DeliveryCount, e.Attempts.Count, e.DeadLetteredAt);
}

public sealed record CompatSubscription(string Queue, string Consumer, int Prefetch, bool AutoComplete, int MaxConcurrentCalls, TimeSpan MaxAutoLockRenewalDuration);

public sealed record CompatSettings(TimeSpan LockDuration, int MaxDeliveryCount, RedeliveryMode RedeliveryMode, TimeSpan RedeliveryDelay, TimeSpan RedeliveryMaxDelay, double RedeliveryJitter, List<string> FailFastExceptionTypes)
{
    public QueueSettings ToSettings() => new()
    {
        LockDuration = LockDuration,
        MaxDeliveryCount = MaxDeliveryCount,
        Redelivery = new RedeliveryPolicy { Mode = RedeliveryMode, Delay = RedeliveryDelay, MaxDelay = RedeliveryMaxDelay, Jitter = RedeliveryJitter },
        FailFastExceptionTypes = FailFastExceptionTypes,
    };

    public static CompatSettings From(QueueSettings settings) => new(
        settings.LockDuration ?? TimeSpan.Zero,
        settings.MaxDeliveryCount ?? 0,
        settings.Redelivery?.Mode ?? RedeliveryMode.Immediate,
        settings.Redelivery?.Delay ?? TimeSpan.Zero,
        settings.Redelivery?.MaxDelay ?? TimeSpan.Zero,
        settings.Redelivery?.Jitter ?? 0,
        [.. settings.FailFastExceptionTypes ?? []]);

    /// <summary>Every member as text: what the test compares (records compare lists by reference) and prints.</summary>
    public string Describe() =>
        $"lock {LockDuration}, max deliveries {MaxDeliveryCount}, {RedeliveryMode} {RedeliveryDelay}..{RedeliveryMaxDelay} jitter {RedeliveryJitter}, fail-fast [{string.Join(", ", FailFastExceptionTypes)}]";
}
