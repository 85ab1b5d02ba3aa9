using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansQueue.Options;
using OrleansQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansQueue.Tests.Compat;

/// <summary>
/// Not a product test: writes the stored-data fixtures that <see cref="StoredDataCompatTests"/> reads. It runs only when
/// <see cref="EnvironmentVariable"/> names a folder (otherwise it returns at once); see Compat/Fixtures/README.md.
/// For each provider and encoding it runs one scenario on a fresh Azurite, stops the cluster gracefully and dumps
/// everything Azurite holds, with what the scenario left behind.
/// </summary>
[Trait("Category", "CompatWriter")]
public sealed class CompatFixtureWriter(ITestOutputHelper output)
{
    public const string EnvironmentVariable = "ORLEANSQUEUE_WRITE_COMPAT_FIXTURES";

    public const string ServiceId = "oq-compat";

    /// <summary>The table or container name: fixed, so storage keys are the same every time.</summary>
    public const string Location = "oqcompat";

    public const string MainQueue = "compat-orders";

    public const string PushQueue = "compat-push";

    public const string ConsumerKey = "worker-1";

    /// <summary>The grains' clock at the start: fixed, so stored times are the same every time.</summary>
    public static readonly DateTimeOffset StartClock = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Small segments, a small window and small dead-letter segments: a few thousand messages make many records.</summary>
    public static readonly CompatSiloOptions SiloOptions = new(SegmentMaxMessages: 64, SegmentChunkMessages: 16, ActiveSegments: 4, DeadLetterSegmentMaxEntries: 4);

    private const int Messages = 3000;

    private static readonly TimeSpan LongLock = TimeSpan.FromHours(6);

    private static readonly CompatSettings MainSettings = new(
        TimeSpan.FromMinutes(2), MaxDeliveryCount: 2, RedeliveryMode.Fixed, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), 0.2,
        ["System.FormatException", "System.ArgumentException"]);

    private static readonly CompatSettings PushSettings = new(
        TimeSpan.FromMinutes(5), MaxDeliveryCount: 5, RedeliveryMode.Fixed, TimeSpan.FromHours(1), TimeSpan.FromHours(1), 0.2,
        ["System.FormatException"]);

    private static readonly CompatSubscription Subscription = new(
        PushQueue, $"{CompatConsumerGrain.GrainTypeName}/{ConsumerKey}", Prefetch: 4, AutoComplete: true, MaxConcurrentCalls: 1, TimeSpan.FromMinutes(10));

    public static TheoryData<StorageKind, QueueStorageEncoding> Combinations()
    {
        var data = new TheoryData<StorageKind, QueueStorageEncoding>();
        foreach (var (kind, encoding) in CompatFixture.Combinations)
        {
            data.Add(kind, encoding);
        }

        return data;
    }

    [WriterTheory]
    [MemberData(nameof(Combinations))]
    public async Task WriteFixture(StorageKind kind, QueueStorageEncoding encoding)
    {
        var folder = Environment.GetEnvironmentVariable(EnvironmentVariable)!;

        Directory.CreateDirectory(folder);
        await using var azurite = new AzuriteFixture();
        var storage = new StorageSetup(kind, azurite.ConnectionString) { Location = Location, Encoding = encoding };
        var scenario = new Scenario(output);
        DateTimeOffset clock;
        CompatExpectations expected;
        CompatConsumerGrain.FailAsScripted = true;
        CompatConsumerGrain.Deliveries.Clear();
        try
        {
            // The queues use the Azure provider ("queues") through a wrapper that can fail the dead-letter grain's
            // writes, so a move to it stays pending; the provider's own name is the reader's.
            await using var cluster = await QueueTestCluster.StartAsync(
                storage,
                o =>
                {
                    SiloOptions.Apply(o);
                    o.StorageName = DeadLetterWriteFaults.Name;
                },
                ServiceId,
                configureSilo: silo => silo.Services.AddKeyedSingleton<IGrainStorage>(DeadLetterWriteFaults.Name,
                    (sp, _) => new DeadLetterWriteFaults(sp.GetRequiredKeyedService<IGrainStorage>(storage.Name), scenario.FailDeadLetterWrites)),
                startTime: StartClock);
            expected = await scenario.RunAsync(cluster);
            clock = cluster.Time.GetUtcNow();
        }
        finally
        {
            CompatConsumerGrain.FailAsScripted = false;
        }

        // The cluster is stopped (gracefully): what storage holds now is what a later version finds.
        var fixture = new CompatFixture
        {
            WrittenBy = GitDescribe(),
            Provider = kind,
            Encoding = encoding,
            ServiceId = ServiceId,
            Location = Location,
            Clock = clock,
            SiloOptions = SiloOptions,
            Expected = expected,
            Storage = await StorageDump.ReadAsync(azurite.ConnectionString),
        };
        var path = Path.Combine(folder, CompatFixture.FileName(kind, encoding));
        await fixture.SaveAsync(path);
        output.WriteLine($"{path}: {new FileInfo(path).Length:N0} bytes, {fixture.Storage.Tables.Sum(t => t.Entities.Count)} entities, {fixture.Storage.Containers.Sum(c => c.Blobs.Count)} blobs");
    }

    /// <summary>The scenario, keeping count of what it leaves behind.</summary>
    private sealed class Scenario(ITestOutputHelper output)
    {
        private readonly Dictionary<long, CompatMessage> _sent = [];
        private readonly HashSet<long> _settled = []; // completed, dead-lettered, or on the way there
        private readonly Dictionary<long, int> _locked = [];
        private readonly List<CompatMessage> _redriven = [];
        private readonly List<CompatDeadLetter> _pending = [];
        private long _completed;

        public Func<bool> FailDeadLetterWrites => () => Volatile.Read(ref _failDeadLetters);

        private bool _failDeadLetters;

        public async Task<CompatExpectations> RunAsync(QueueTestCluster cluster)
        {
            var main = cluster.Queue(MainQueue);
            var deadLetters = cluster.Client.GetDeadLetters();
            await main.ConfigureAsync(MainSettings.ToSettings());

            // Many segments: the first two thirds in large batches (a segment per write), the rest in small ones (segments
            // of several chunk records). Every tenth message has a content type and headers of its own.
            for (var start = 0; start < Messages;)
            {
                var size = start < Messages * 2 / 3 ? 250 : 8;
                var batch = Enumerable.Range(start, Math.Min(size, Messages - start)).Select(MessageNumber).ToList();
                start += batch.Count;
                var sentAt = cluster.Time.GetUtcNow();
                var seqs = await main.SendBatchAsync(batch.Select(m => new OutgoingMessage(System.Text.Encoding.UTF8.GetBytes(m.Body))
                {
                    MessageId = m.Id,
                    ContentType = m.ContentType,
                    Headers = m.Headers,
                }));
                for (var i = 0; i < batch.Count; i++)
                {
                    _sent.Add(seqs[i], batch[i] with { Seq = seqs[i], EnqueuedTime = sentAt });
                }
            }

            Assert.Equal(Enumerable.Range(1, Messages).Select(i => (long)i), _sent.Keys.Order());

            // The cursor moves: the first 400 completed.
            await CompleteAsync(main, await ReceiveExactlyAsync(main, 400));

            // Ten locked for hours: the window moves past them (they are parked) as the messages after them complete.
            Lock(await ReceiveExactlyAsync(main, 10, LongLock));

            // Five dead-lettered by the receiver, two of them a second earlier than the others (they are redriven below).
            var rejected = await ReceiveExactlyAsync(main, 5);
            var beforeRedriven = cluster.Time.GetUtcNow() + TimeSpan.FromMilliseconds(500);
            foreach (var (delivery, i) in rejected.Select((d, i) => (d, i)))
            {
                if (i == 2)
                {
                    cluster.Time.Advance(TimeSpan.FromSeconds(1));
                }

                await main.DeadLetterAsync(delivery, $"rejected {delivery.Message.MessageId}");
                _settled.Add(delivery.Message.SequenceNumber);
            }

            // Three delivered twice and abandoned: past the maximum of 2, dead-lettered.
            await AbandonTwiceAsync(cluster, main, 3);
            await Wait.UntilAsync(() => deadLetters.GetStatsAsync(), s => s.Count == 8, "8 dead letters stored");

            await CompleteAsync(main, await ReceiveExactlyAsync(main, 190));

            // The two earlier rejected messages go back to their queue (with the move as their duplicate-detection key).
            var redriven = await deadLetters.RedriveAsync(new DeadLetterFilter { SourceQueue = MainQueue, Reason = DeadLetterReason.RejectedByConsumer, Until = beforeRedriven });
            Assert.Equal(2, redriven);
            var stats = await main.GetStatsAsync();
            foreach (var delivery in rejected.Take(2))
            {
                var message = _sent[delivery.Message.SequenceNumber];
                _redriven.Add(message with { Seq = stats.TotalEnqueued - 1 + _redriven.Count, EnqueuedTime = cluster.Time.GetUtcNow() });
            }

            Assert.Equal(Messages + 2, stats.TotalEnqueued);

            await RunPushQueueAsync(cluster);
            var entries = await deadLetters.BrowseAllAsync().ToListAsync(); // read now: with its writes failing, it cannot load
            Assert.Equal(7, entries.Count); // 3 rejected + 3 past the maximum from the main queue, 1 fail-fast from the push queue

            // The dead-letter grain's writes fail from here on: three moves are stored and stay pending.
            Volatile.Write(ref _failDeadLetters, true);
            foreach (var seq in await AbandonTwiceAsync(cluster, main, 2))
            {
                _pending.Add(DeadLetterOf(MainQueue, _sent[seq], DeadLetterReason.MaxDeliveriesExceeded,
                    "Delivered 2 times without being completed (the queue's maximum is 2).", deliveries: 2, cluster.Time.GetUtcNow()));
            }

            var last = Assert.Single(await ReceiveExactlyAsync(main, 1));
            await main.DeadLetterAsync(last, "rejected while the dead-letter store was down");
            _settled.Add(last.Message.SequenceNumber);
            _pending.Add(DeadLetterOf(MainQueue, _sent[last.Message.SequenceNumber], DeadLetterReason.RejectedByConsumer, "rejected while the dead-letter store was down",
                deliveries: 1, cluster.Time.GetUtcNow()));
            await Wait.UntilAsync(() => main.GetStatsAsync(), s => s.DeadLetteringCount == 3, "3 moves pending");

            // Five more locked for hours, in the window (the last receive: the cursor record is written with it).
            Lock(await ReceiveExactlyAsync(main, 5, LongLock));

            var mainStats = await main.GetStatsAsync();
            Assert.Equal((15L, 3L, _completed), (mainStats.LockedCount, mainStats.DeadLetteringCount, mainStats.TotalCompleted));
            var duplicate = _sent[Messages];
            var ready = _sent.Values.Where(m => !_settled.Contains(m.Seq) && !_locked.ContainsKey(m.Seq)).Concat(_redriven)
                .Select(m => m with { DeliveryCount = 1 }).OrderBy(m => m.Seq).ToList();
            Assert.Equal(mainStats.ReadyCount, ready.Count);
            output.WriteLine($"main queue: {ready.Count} ready, {_locked.Count} locked, {_pending.Count} pending moves, {_completed} completed; {entries.Count} dead letters");

            return new CompatExpectations
            {
                MainQueue = MainQueue,
                MainSettings = MainSettings,
                MainTotalEnqueued = mainStats.TotalEnqueued,
                MainTotalCompleted = mainStats.TotalCompleted,
                MainTotalDeadLettered = mainStats.TotalDeadLettered + mainStats.DeadLetteringCount,
                Ready = ready,
                Locked = [.. _locked.OrderBy(l => l.Key).Select(l => _sent[l.Key] with { DeliveryCount = l.Value + 1 })],
                PendingMoves = _pending,
                DeadLetters = [.. entries.Select(CompatDeadLetter.From)],
                Duplicate = duplicate,
                PushQueue = PushQueue,
                PushSettings = PushSettings,
                Subscription = Subscription,
                PushTotalCompleted = _pushCompleted,
                PushDelayed = _pushDelayed,
            };
        }

        private long _pushCompleted;
        private List<CompatMessage> _pushDelayed = [];

        /// <summary>
        /// A grain consumer subscribed with options of its own: five messages handled, one fail-fast (dead-lettered), three
        /// failed once and waiting out the queue's one-hour redelivery delay.
        /// </summary>
        private async Task RunPushQueueAsync(QueueTestCluster cluster)
        {
            var push = cluster.Queue(PushQueue);
            await push.ConfigureAsync(PushSettings.ToSettings());
            await push.SubscribeAsync(cluster.Client.GetGrain<ICompatConsumerGrain>(ConsumerKey), new ConsumerOptions
            {
                Prefetch = Subscription.Prefetch,
                AutoComplete = Subscription.AutoComplete,
                MaxConcurrentCalls = Subscription.MaxConcurrentCalls,
                MaxAutoLockRenewalDuration = Subscription.MaxAutoLockRenewalDuration,
            });
            var bodies = new[] { "push-0", "push-1", "push-2", "push-3", "push-4", "poison-0", "retry-0", "retry-1", "retry-2" };
            var seqs = new List<long>();
            var sentAt = cluster.Time.GetUtcNow();
            foreach (var body in bodies)
            {
                seqs.Add(await push.SendAsync(body, $"id-{body}"));
            }

            var stats = await Wait.UntilAsync(() => push.GetStatsAsync(), s => s is { TotalCompleted: 5, TotalDeadLettered: 1, DelayedCount: 3 },
                "the push queue's consumer handled 5, failed 1 fast and 3 for later");
            Assert.Equal(9, CompatConsumerGrain.Deliveries.Count);
            _pushCompleted = stats.TotalCompleted;
            _pushDelayed = [.. bodies.Select((b, i) => new CompatMessage(seqs[i], $"id-{b}", b, "text/plain; charset=utf-8", null, 2, sentAt)).Where(m => m.Body.StartsWith("retry", StringComparison.Ordinal))];

            // Written at once and awaited: the cursor record holds the completions of the pushes too.
            await push.ConfigureAsync(PushSettings.ToSettings());
        }

        private static CompatMessage MessageNumber(int i) => i % 10 == 3
            ? new CompatMessage(0, $"order-{i:D4}", $"{{\"order\":{i},\"check\":{i * 7919 % 10007}}}", "application/json",
                new Dictionary<string, string> { ["tenant"] = $"t{i % 7}", ["index"] = $"{i}" }, 0, default)
            : new CompatMessage(0, $"order-{i:D4}", $"order {i} check {i * 7919 % 10007}", "text/plain", null, 0, default);

        private static CompatDeadLetter DeadLetterOf(string queue, CompatMessage m, DeadLetterReason reason, string description, int deliveries, DateTimeOffset at) =>
            new(queue, m.Id, m.Seq, m.Body, reason, description, null, null, deliveries, deliveries, at);

        private void Lock(IEnumerable<ReceivedMessage> deliveries)
        {
            foreach (var d in deliveries)
            {
                _locked.Add(d.Message.SequenceNumber, d.Message.DeliveryCount);
            }
        }

        private async Task CompleteAsync(QueueClient queue, IReadOnlyList<ReceivedMessage> deliveries)
        {
            foreach (var chunk in deliveries.Chunk(500))
            {
                await queue.CompleteAsync(chunk.Select(d => d.LockToken));
            }

            _settled.UnionWith(deliveries.Select(d => d.Message.SequenceNumber));
            _completed += deliveries.Count;
        }

        /// <summary>Receives the next <paramref name="count"/> messages, delivers them again after the redelivery delay, abandons them twice.</summary>
        private async Task<List<long>> AbandonTwiceAsync(QueueTestCluster cluster, QueueClient queue, int count)
        {
            var first = await ReceiveExactlyAsync(queue, count);
            foreach (var d in first)
            {
                await queue.AbandonAsync(d);
            }

            cluster.Time.Advance(MainSettings.RedeliveryDelay + TimeSpan.FromSeconds(1));
            var second = await ReceiveExactlyAsync(queue, count);
            Assert.Equal(first.Select(d => d.Message.SequenceNumber), second.Select(d => d.Message.SequenceNumber));
            Assert.All(second, d => Assert.Equal(2, d.Message.DeliveryCount));
            foreach (var d in second)
            {
                await queue.AbandonAsync(d);
                _settled.Add(d.Message.SequenceNumber);
            }

            return [.. second.Select(d => d.Message.SequenceNumber)];
        }

        /// <summary>The next <paramref name="count"/> messages in sequence order (a receive returns at most the window's worth).</summary>
        private async Task<List<ReceivedMessage>> ReceiveExactlyAsync(QueueClient queue, int count, TimeSpan? lockDuration = null)
        {
            var received = new List<ReceivedMessage>();
            while (received.Count < count)
            {
                var batch = await queue.ReceiveAsync(count - received.Count, lockDuration);
                Assert.NotEmpty(batch);
                received.AddRange(batch);
            }

            return received;
        }
    }

    /// <summary>The last commit that changed src/ (the code that wrote the data), marked when src/ has local changes.</summary>
    private static string GitDescribe()
    {
        var commit = Git("log -1 --format=%h%x20%cs -- src");
        var changes = Git("status --porcelain -- src");
        return commit is null ? "unknown" : changes is { Length: > 0 } ? $"{commit} with local changes in src/" : commit;
    }

    private static string? Git(string arguments)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", arguments)
            {
                WorkingDirectory = Repository.Root,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git
        }
    }
}

/// <summary>Passes every call to the queue storage, but fails the dead-letter grain's writes while <c>fail()</c> holds.</summary>
internal sealed class DeadLetterWriteFaults(IGrainStorage inner, Func<bool> fail) : IGrainStorage
{
    public const string Name = "queues-faulty";

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Fails(grainId) ? throw new IOException("Injected: the dead-letter store is down.") : inner.WriteStateAsync(stateName, grainId, grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        Fails(grainId) ? throw new IOException("Injected: the dead-letter store is down.") : inner.ClearStateAsync(stateName, grainId, grainState);

    private bool Fails(GrainId grainId) => fail() && grainId.Type.ToString() == "deadletter";
}

/// <summary>Runs only when <see cref="CompatFixtureWriter.EnvironmentVariable"/> names a folder; reported as skipped otherwise.</summary>
public sealed class WriterTheoryAttribute : TheoryAttribute
{
    public WriterTheoryAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(CompatFixtureWriter.EnvironmentVariable)))
        {
            Skip = $"Writes compatibility fixtures only when {CompatFixtureWriter.EnvironmentVariable} names a folder (see Compat/Fixtures/README.md).";
        }
    }
}
