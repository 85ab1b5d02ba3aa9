using System.Diagnostics;

namespace OrleansQueue.Benchmarks.Harness;

/// <summary>One row of the report.</summary>
public sealed record BenchResult
{
    public required string System { get; init; }
    public required string Workload { get; init; }
    public required int Messages { get; init; }

    /// <summary>How durable the system's confirm is (<see cref="Harness.Durability"/>).</summary>
    public string? Durability { get; init; }
    public int Confirmed { get; init; }
    public int Delivered { get; init; }
    public int Duplicates { get; init; }
    public double? SentPerSecond { get; init; }
    public double? ConsumedPerSecond { get; init; }
    public double? P50Ms { get; init; }
    public double? P99Ms { get; init; }
    public double? P999Ms { get; init; }

    /// <summary>Send-to-confirm latency of the producer's sends (latency workloads only).</summary>
    public double? ConfirmP50Ms { get; init; }
    public double? ConfirmP99Ms { get; init; }
    public double? PeakMemoryMb { get; init; }

    /// <summary>Message bytes consumed per second, in MB (10^6 bytes): consumed/s × the body size.</summary>
    public double? MegabytesPerSecond { get; init; }

    /// <summary>Storage bytes written per message byte sent, over the workload (see <see cref="IWriteMeter"/>).</summary>
    public double? WriteAmplification { get; init; }

    /// <summary>CPU microseconds per message over the workload: the system's server processes (<see cref="IBenchTarget.ServerProcessIds"/>) and this process (the clients).</summary>
    public double? ServerCpuUs { get; init; }
    public double? ClientCpuUs { get; init; }
    public string? Note { get; init; }

    /// <summary>
    /// The latency samples behind the percentiles (<see cref="Stopwatch"/> ticks), kept by the floor rows so the
    /// lower bound can combine them (<see cref="LowerBound"/>); not written to the JSON.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long[]? LatencyTicks { get; init; }

    /// <summary>
    /// Whether the workload's own checks passed, beyond the counts (W5: the stragglers were held throughout and none
    /// reached the consumer); the note says which failed. Shown in the JSON through <see cref="Complete"/>.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool ChecksPassed { get; init; } = true;

    /// <summary>Every confirmed message arrived, and the workload's own checks passed.</summary>
    public bool Complete => ChecksPassed && Delivered >= Confirmed && Confirmed > 0;

    /// <summary>Storage bytes written per message byte, from a write meter read before and after (null if either read failed).</summary>
    public static double? Amplification(long? before, long? after, long messageBytes) =>
        (before, after) is ({ } b, { } a) && messageBytes > 0 ? (a - b) / (double)messageBytes : null;

    /// <summary>
    /// A W1 matrix floor row: <paramref name="messages"/> of <paramref name="size"/> bytes stored (and removed) by the
    /// storage alone in <paramref name="elapsed"/>, with its write meter readings and server CPU.
    /// </summary>
    public static BenchResult MatrixFloor(string system, string durability, int size, int messages, TimeSpan elapsed,
        long? before, long? after, CpuMeter cpu, string note) => new()
    {
        System = system,
        Durability = durability,
        Workload = Workloads.MatrixFloorWorkload(size),
        Messages = messages,
        Confirmed = messages,
        Delivered = messages,
        SentPerSecond = messages / elapsed.TotalSeconds,
        ConsumedPerSecond = messages / elapsed.TotalSeconds,
        MegabytesPerSecond = messages / elapsed.TotalSeconds * size / 1e6,
        WriteAmplification = Amplification(before, after, (long)messages * size),
        ServerCpuUs = cpu.PerMessage(messages).Server,
        Note = note,
    };

    /// <summary>
    /// A W3 floor row: <paramref name="ticks"/> timed operations (<see cref="Stopwatch"/> ticks each) paced at
    /// <paramref name="perSecond"/> over <paramref name="elapsed"/>, with their percentiles and the samples kept.
    /// </summary>
    public static BenchResult Paced(string system, int perSecond, long[] ticks, TimeSpan elapsed, string note)
    {
        var latency = Recorder.Percentiles(ticks);
        return new BenchResult
        {
            System = system,
            Workload = $"W3 paced {perSecond:N0} msg/s",
            Messages = ticks.Length,
            Confirmed = ticks.Length,
            Delivered = ticks.Length,
            SentPerSecond = ticks.Length / elapsed.TotalSeconds,
            P50Ms = latency?.P50,
            P99Ms = latency?.P99,
            P999Ms = latency?.P999,
            LatencyTicks = ticks,
            Note = note,
        };
    }
}

/// <summary>The workloads of issue 5, with 256-byte persistent messages.</summary>
public sealed class Workloads(BenchSettings settings)
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);
    private int _queues;

    private string NewQueue(string workload) => $"bench-{workload}-{Environment.ProcessId}-{++_queues}".ToLowerInvariant();

    /// <summary>W1: producer (1,000 in flight) and consumer (prefetch 1,000) together.</summary>
    public Task<BenchResult> W1Async(IBenchTarget target, int? messages = null) =>
        W1OnAsync(target, NewQueue("w1"), Math.Min(messages ?? settings.Messages, target.MaxMessages), W1Workload);

    /// <summary>The W1 row.</summary>
    public const string W1Workload = "W1 send+consume together";

    /// <summary>W9's row on an empty queue.</summary>
    public const string W9EmptyWorkload = "W9: W1 on an empty queue";

    /// <summary>W9's row on the queue holding the scheduled messages.</summary>
    public static string W9ScheduledWorkload(int scheduled) => $"W9: W1 beside {scheduled:N0} scheduled a week ahead";

    /// <summary>
    /// W9 (OrleansQueue): W1 on an empty queue; then <see cref="BenchSettings.Backlog"/> messages scheduled a week ahead
    /// stored in a new queue (batches of 1,000, 8 in flight); then W1 on that queue. Each row reads the silo's peak
    /// memory after it, so the second says what the scheduled messages cost. The queue is deleted afterwards.
    /// </summary>
    public async Task<IReadOnlyList<BenchResult>> W9Async(OrleansQueueTarget target)
    {
        var count = Math.Min(settings.Messages, target.MaxMessages);
        SettleHarnessHeap();
        var empty = NewQueue("w9-empty");
        var emptyRow = await W1OnAsync(target, empty, count, W9EmptyWorkload);
        await target.DeleteAsync(empty);

        var queue = NewQueue("w9-scheduled");
        var watch = Stopwatch.StartNew();
        var scheduled = await target.FillAsync(queue, settings.Backlog, scheduledEnqueueTime: DateTimeOffset.UtcNow.AddDays(7));
        var fillSeconds = watch.Elapsed.TotalSeconds;
        SettleHarnessHeap(); // the fill's bodies
        var row = await W1OnAsync(target, queue, count, W9ScheduledWorkload(settings.Backlog));
        var stats = await target.StatsAsync(queue);
        watch.Restart();
        await DeleteWaitingAsync(target, queue);
        return
        [
            emptyRow with { Note = "a new queue, deleted after it" },
            row with
            {
                Note = $"{scheduled:N0} scheduled in batches of 1,000 at {scheduled / fillSeconds:N0} msgs/s; the queue held {stats.ScheduledCount:N0} scheduled " +
                    $"after the row; deleting it took {watch.Elapsed.TotalSeconds:N1} s",
            },
        ];
    }

    /// <summary>
    /// Deletes the queue; a delete of many records runs past Orleans' 30 s call timeout and carries on (calls wait for
    /// it): then waits until the queue answers again, at most 10 minutes.
    /// </summary>
    private static async Task DeleteWaitingAsync(OrleansQueueTarget target, string queue)
    {
        try
        {
            await target.DeleteAsync(queue);
        }
        catch (TimeoutException)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    await target.StatsAsync(queue);
                    return;
                }
                catch (TimeoutException) when (deadline.Elapsed < TimeSpan.FromMinutes(10))
                {
                }
            }
        }
    }

    private async Task<BenchResult> W1OnAsync(IBenchTarget target, string queue, int count, string workload)
    {
        await target.PrepareAsync(queue);
        var recorder = new Recorder(count);
        await using var consumer = await target.ConsumeAsync(queue, recorder.OnMessage, settings.Prefetch);
        return await SendWhileConsumingAsync(target, queue, count, recorder, workload);
    }

    /// <summary>The message sizes of the W1 matrix.</summary>
    public static readonly int[] MatrixSizes = [256, 16 * 1024, 64 * 1024];

    /// <summary>The queue counts of the W1 matrix.</summary>
    public static readonly int[] MatrixQueues = [1, 8, 32];

    /// <summary>The workload name of a matrix cell, e.g. "W1 matrix 16 KiB × 8 queues".</summary>
    public static string MatrixWorkload(int size, int queues) =>
        $"W1 matrix {SizeLabel(size)} × {queues} {(queues == 1 ? "queue" : "queues")}";

    /// <summary>The workload name of a storage floor row for the matrix's message size.</summary>
    public static string MatrixFloorWorkload(int size) => $"W1 matrix floor {SizeLabel(size)}";

    /// <summary>"256 B", "16 KiB", "64 KiB".</summary>
    public static string SizeLabel(int size) => size >= 1024 ? $"{size / 1024} KiB" : $"{size} B";

    /// <summary>
    /// One cell of the W1 matrix: <paramref name="queues"/> new queues, each with one consumer whose prefetch is
    /// <see cref="BenchSettings.Prefetch"/> ÷ queues; <see cref="BenchSettings.InFlight"/> confirmed sends in flight split
    /// across the queues (message i to queue i mod queues), bodies of <paramref name="size"/> random bytes; as many
    /// messages as <see cref="BenchSettings.MatrixBytes"/> holds (between <see cref="BenchSettings.MatrixMinMessages"/>
    /// and <see cref="BenchSettings.MatrixMaxMessages"/>). Besides W1's numbers: MB/s and the storage's bytes written
    /// per message byte, read once the writes that follow the last delivery (completions, segment deletions) are done.
    /// </summary>
    public async Task<BenchResult> MatrixCellAsync(IBenchTarget target, int size, int queues)
    {
        var count = Math.Min(target.MaxMessages, settings.MatrixMessages(size));
        var names = Enumerable.Range(0, queues).Select(_ => NewQueue("m")).ToArray();
        foreach (var name in names)
        {
            await target.PrepareAsync(name);
        }

        var recorder = new Recorder(count, size);
        var consumers = new List<IAsyncDisposable>();
        foreach (var name in names)
        {
            consumers.Add(await target.ConsumeAsync(name, recorder.OnMessage, Math.Max(1, settings.Prefetch / queues)));
        }

        try
        {
            SettleHarnessHeap();
            var before = target.Writes is { } meter ? await meter.ReadAsync() : null;
            var cpu = CpuMeter.Start(target);
            var start = Stopwatch.GetTimestamp();
            var sent = await Producer.SendAsync(target, names, count, settings.InFlight, size);
            await recorder.WaitAllAsync(DrainTimeout);
            var row = Result(target, MatrixWorkload(size, queues), count, sent, recorder, Seconds(start, recorder.LastReceived), latency: true, cpu);
            await Task.Delay(MatrixWriteSettle);
            var after = target.Writes is { } again ? await again.ReadAsync() : null;
            return row with
            {
                MegabytesPerSecond = row.ConsumedPerSecond * size / 1e6,
                WriteAmplification = BenchResult.Amplification(before, after, (long)sent.Confirmed * size),
            };
        }
        finally
        {
            foreach (var consumer in consumers)
            {
                await consumer.DisposeAsync();
            }
        }
    }

    /// <summary>How long after a matrix cell's last delivery its storage writes are still counted (OrleansQueue writes completions within 250 ms).</summary>
    private static readonly TimeSpan MatrixWriteSettle = TimeSpan.FromSeconds(1.5);

    /// <summary>The messages W5's straggling receiver holds.</summary>
    public const int W5Stragglers = 1000;

    /// <summary>How long W5's straggling receiver locks its messages (where the system has lock durations).</summary>
    public static readonly TimeSpan W5LockDuration = TimeSpan.FromMinutes(10);

    /// <summary>The W5 row.</summary>
    public const string W5Workload = "W5 stragglers: W1 beside 1,000 held";

    /// <summary>
    /// W5, stragglers: <see cref="W5Stragglers"/> messages are sent to a new queue and a receiver of their own takes
    /// them, locked for <see cref="W5LockDuration"/>, and never settles them (RabbitMQ: a second channel with that
    /// many unacknowledged); then W1 runs on the same queue. The row is W1's, measured the same way; it is incomplete
    /// unless the receiver held exactly the stragglers, the consumer got none of them, and they were all still held
    /// at the end. Afterwards they are settled, so the queue is left empty.
    /// </summary>
    public async Task<BenchResult> W5Async(IStragglerTarget target)
    {
        var count = Math.Min(settings.Messages, target.MaxMessages);
        var queue = NewQueue("w5");
        await target.PrepareAsync(queue);

        // The stragglers' bodies carry index -1, which the recorder counts as unexpected if the consumer gets one.
        var stragglerBodies = Enumerable.Range(0, W5Stragglers).Select(_ => Recorder.Body(-1)).ToArray();
        var sends = await Task.WhenAll(stragglerBodies.Select(async body =>
        {
            try
            {
                await target.SendAsync(queue, body);
                return true;
            }
            catch (Exception)
            {
                return false;
            }
        }));
        await using var stragglers = await target.HoldAsync(queue, W5Stragglers, W5LockDuration, DrainTimeout);

        var recorder = new Recorder(count);
        BenchResult row;
        string? settleError;
        await using (var consumer = await target.ConsumeAsync(queue, recorder.OnMessage, settings.Prefetch))
        {
            row = await SendWhileConsumingAsync(target, queue, count, recorder, W5Workload);

            // Settled while the consumer is still subscribed: nothing goes back to the queue for it to receive.
            settleError = await stragglers.SettleAsync();
        }

        var notes = new List<string> { $"{stragglers.Held:N0} stragglers held unsettled by {stragglers.Receiver}" };
        if (row.Note is not null)
        {
            notes.Add(row.Note);
        }

        var checks = notes.Count;
        var stored = sends.Count(ok => ok);
        if (stored < W5Stragglers || stragglers.Held != W5Stragglers || stragglers.ReadyBeside != 0)
        {
            notes.Add($"stragglers NOT held as meant: {stored:N0} of {W5Stragglers:N0} stored, {stragglers.Held:N0} held, {stragglers.ReadyBeside:N0} ready beside them");
        }

        if (recorder.Unexpected > 0)
        {
            notes.Add("the unexpected messages are held stragglers (nothing else is sent): NOT kept from the consumer");
        }

        if (settleError is not null)
        {
            notes.Add($"stragglers NOT all held at the end: {settleError}");
        }

        return row with { ChecksPassed = notes.Count == checks, Note = string.Join("; ", notes) };
    }

    /// <summary>
    /// The measured part of W1 and W5: <paramref name="count"/> messages sent into <paramref name="queue"/> with
    /// <see cref="BenchSettings.InFlight"/> in flight while the consumer that feeds <paramref name="recorder"/> is
    /// subscribed; the row once every message arrived or the drain timeout passed.
    /// </summary>
    private async Task<BenchResult> SendWhileConsumingAsync(IBenchTarget target, string queue, int count, Recorder recorder, string workload)
    {
        var cpu = CpuMeter.Start(target);
        var start = Stopwatch.GetTimestamp();
        var sent = await Producer.SendAsync(target, queue, count, settings.InFlight);
        await recorder.WaitAllAsync(DrainTimeout);
        return Result(target, workload, count, sent, recorder, Seconds(start, recorder.LastReceived), latency: true, cpu);
    }

    /// <summary>W2: send everything first, then drain.</summary>
    public async Task<BenchResult> W2Async(IBenchTarget target)
    {
        var count = Math.Min(settings.Messages, target.MaxMessages);
        var queue = NewQueue("w2");
        await target.PrepareAsync(queue);
        var recorder = new Recorder(count);
        var cpu = CpuMeter.Start(target);
        var sent = await Producer.SendAsync(target, queue, count, settings.InFlight);
        var start = Stopwatch.GetTimestamp();
        await using var consumer = await target.ConsumeAsync(queue, recorder.OnMessage, settings.Prefetch);
        await recorder.WaitAllAsync(DrainTimeout + TimeSpan.FromSeconds(count / 1000.0));
        return Result(target, "W2 send all, then drain", count, sent, recorder, Seconds(start, recorder.LastReceived), latency: false, cpu);
    }

    /// <summary>W3: paced sends for <see cref="BenchSettings.PacedSeconds"/>, consumer running; latency.</summary>
    public async Task<BenchResult> W3Async(IBenchTarget target, int perSecond)
    {
        var count = (int)Math.Min(perSecond * settings.PacedSeconds, target.MaxMessages);
        var queue = NewQueue("w3");
        await target.PrepareAsync(queue);
        var recorder = new Recorder(count);
        await using var consumer = await target.ConsumeAsync(queue, recorder.OnMessage, settings.Prefetch);
        var cpu = CpuMeter.Start(target);
        var start = Stopwatch.GetTimestamp();
        var sent = await Producer.SendAsync(target, queue, count, settings.InFlight, perSecond);
        await recorder.WaitAllAsync(DrainTimeout);
        return Result(target, $"W3 paced {perSecond:N0} msg/s", count, sent, recorder, Seconds(start, recorder.LastReceived), latency: true, cpu);
    }

    /// <summary>
    /// W4: enqueue rate into an empty queue, then into a queue holding <see cref="BenchSettings.Backlog"/> messages.
    /// Each rate is measured <see cref="W4Rounds"/> times and reported by the median round: one round lasts a second
    /// or two, shorter than this machine's hiccups. Once the backlog is stored, backlog rounds alternate with rounds
    /// into a new empty queue beside it: Azurite's own speed drifts between the rounds before the backlog and those
    /// after it (for every table alike), so only that pair compares the two queues on the same storage at the same time.
    /// </summary>
    public async Task<IReadOnlyList<BenchResult>> W4Async(OrleansQueueTarget target)
    {
        var count = Math.Min(settings.Messages, target.MaxMessages);
        var rows = new List<BenchResult>();
        if (target.AzuriteConnectionString is { } storage)
        {
            rows.Add(await AzuriteFloor.WriteRateAsync(storage, "empty queue"));
        }

        var empty = new EnqueueRounds(W4EmptyWorkload, "a new queue each round, deleted after it");
        SettleHarnessHeap(); // what ran before (the W3 rows) left sent bodies behind in this process
        for (var round = 0; round < W4Rounds; round++)
        {
            await EnqueueRoundAsync(target, empty, NewQueue("w4-empty"), count, deleteAfter: true);
        }

        var emptyRow = empty.ToResult(target, count); // now, for the silo's peak memory before the backlog

        var full = NewQueue("w4-backlog");
        var backlogWatch = Stopwatch.StartNew();
        var backlog = await target.FillAsync(full, settings.Backlog);
        var fillSeconds = backlogWatch.Elapsed.TotalSeconds;
        if (target.AzuriteConnectionString is { } stored)
        {
            rows.Add(await AzuriteFloor.WriteRateAsync(stored, $"{settings.Backlog:N0} backlog stored"));
        }

        var backlogRounds = new EnqueueRounds($"W4 enqueue, {settings.Backlog:N0} backlog",
            $"backlog of {backlog:N0} sent in batches of 1,000 at {backlog / fillSeconds:N0} msgs/s; each round adds its {count:N0} to it");
        var beside = new EnqueueRounds(W4BesideWorkload,
            "a new queue each round, deleted after it, on the same storage as the backlog, alternating with the backlog rounds");
        SettleHarnessHeap(); // the fill's bodies
        Task BacklogRound() => EnqueueRoundAsync(target, backlogRounds, full, count, deleteAfter: false);
        Task BesideRound() => EnqueueRoundAsync(target, beside, NewQueue("w4-beside"), count, deleteAfter: true);
        for (var round = 0; round < W4Rounds; round++)
        {
            // AB, BA, AB: neither kind always runs second (after the other's round, or its purge).
            await (round % 2 == 0 ? BacklogRound() : BesideRound());
            await (round % 2 == 0 ? BesideRound() : BacklogRound());
        }

        var stats = await target.StatsAsync(full);
        var backlogRow = backlogRounds.ToResult(target, count, $"queue holds {stats.ReadyCount:N0} ready");
        await target.PurgeAsync(full);
        return [emptyRow, backlogRow, beside.ToResult(target, count), .. rows];
    }

    /// <summary>The queues of W6.</summary>
    public const int W6Queues = 10;

    /// <summary>
    /// W6, a dead-letter storm: <see cref="W6Queues"/> queues of <see cref="BenchSettings.Messages"/> / 10 messages
    /// each (10,000 in a full run), stored first; then every queue gets a consumer that fails every delivery, all at
    /// once, and with MaxDeliveryCount 1 every message moves to the dead-letter grain. Moves/s (in the consumed/s
    /// column) from the subscriptions until the queues report every message moved. Then the check that each message
    /// ends in exactly one place (its queue empty, one dead-letter entry per message id, the counts equal to the
    /// messages), and a purge of the entries, timed for the note.
    /// </summary>
    public async Task<BenchResult> W6Async(OrleansQueueTarget target)
    {
        var perQueue = Math.Max(1, settings.Messages / W6Queues);
        var queues = Enumerable.Range(0, W6Queues).Select(_ => NewQueue("w6")).ToArray();
        var client = target.Client;
        long confirmed = 0;
        foreach (var queue in queues)
        {
            await client.GetQueue(queue).ConfigureAsync(new QueueSettings { MaxDeliveryCount = 1 });
            confirmed += await target.FillAsync(queue, perQueue, idPrefix: queue);
        }

        var total = perQueue * W6Queues;
        SettleHarnessHeap();
        var cpu = CpuMeter.Start(target);
        var start = Stopwatch.GetTimestamp();
        var subscriptions = await Task.WhenAll(queues.Select(target.RejectAllAsync));
        var deadline = Stopwatch.GetTimestamp() + (long)((DrainTimeout + TimeSpan.FromSeconds(total / 1000.0)).TotalSeconds * Stopwatch.Frequency);
        QueueStats[] stats;
        long end;
        while (true)
        {
            stats = await Task.WhenAll(queues.Select(q => client.GetQueue(q).GetStatsAsync()));
            end = Stopwatch.GetTimestamp();
            if ((stats.Sum(s => s.TotalDeadLettered) >= confirmed && stats.All(s => s.ActiveCount == 0)) || end > deadline)
            {
                break;
            }

            await Task.Delay(20);
        }

        var (serverCpu, clientCpu) = cpu.PerMessage(total);
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }

        // Exactly one place: no longer in its queue, once in the dead-letter grain (its id once, counted once).
        var dead = client.GetDeadLetters();
        var counts = (await dead.GetStatsAsync()).CountBySourceQueue;
        var entries = new Dictionary<string, int>();
        await foreach (var entry in dead.BrowseAllAsync())
        {
            if (Array.IndexOf(queues, entry.SourceQueue) >= 0)
            {
                entries[entry.Message.MessageId] = entries.GetValueOrDefault(entry.Message.MessageId) + 1;
            }
        }

        var inQueues = stats.Sum(s => s.ActiveCount);
        var onceInDeadLetters = queues.Sum(q => Enumerable.Range(0, perQueue).Count(i => entries.GetValueOrDefault($"{q}-{i}") == 1));
        var duplicated = entries.Values.Count(n => n > 1);
        var miscounted = queues.Count(q => counts.GetValueOrDefault(q) != perQueue);
        var purgeWatch = Stopwatch.StartNew();
        var purged = await dead.PurgeAsync();
        var purgeSeconds = purgeWatch.Elapsed.TotalSeconds;

        var seconds = Seconds(start, end);
        var notes = new List<string>
        {
            $"consumed/s = moves/s into the dead-letter grain: {W6Queues} queues of {perQueue:N0}, every delivery failed (MaxDeliveryCount 1), all at once",
            $"afterwards {purged:N0} entries purged in {purgeSeconds:N1} s",
        };
        if (confirmed < total)
        {
            notes.Add($"{total - confirmed:N0} sends not confirmed");
        }

        if (onceInDeadLetters < confirmed || inQueues > 0 || duplicated > 0 || miscounted > 0)
        {
            notes.Add($"NOT in exactly one place: {confirmed - onceInDeadLetters:N0} not once in the dead-letter grain, {inQueues:N0} still in their queues, " +
                $"{duplicated:N0} duplicated, {miscounted} queue(s) counted wrong");
        }

        return new BenchResult
        {
            System = target.System,
            Durability = target.Durability,
            Workload = W6Workload,
            Messages = total,
            Confirmed = (int)confirmed,
            Delivered = inQueues == 0 && miscounted == 0 ? onceInDeadLetters : 0,
            Duplicates = duplicated,
            ConsumedPerSecond = seconds > 0 ? onceInDeadLetters / seconds : null,
            PeakMemoryMb = Mb(target.PeakMemoryBytes()),
            ServerCpuUs = onceInDeadLetters >= confirmed ? serverCpu : null,
            ClientCpuUs = onceInDeadLetters >= confirmed ? clientCpu : null,
            Note = string.Join("; ", notes),
        };
    }

    /// <summary>The W6 row.</summary>
    public const string W6Workload = "W6 dead-letter storm, 10 queues";

    /// <summary>How many times W4 measures each of its enqueue rates.</summary>
    public const int W4Rounds = 3;

    /// <summary>The W4 row of the empty queue, measured before the backlog is stored.</summary>
    public const string W4EmptyWorkload = "W4 enqueue, empty queue";

    /// <summary>The W4 row of an empty queue beside the backlog, on the same storage.</summary>
    public const string W4BesideWorkload = "W4 enqueue, empty queue beside the backlog";

    /// <summary>
    /// One send of <paramref name="count"/> messages into <paramref name="queue"/>, added to <paramref name="rounds"/>;
    /// with <paramref name="deleteAfter"/>, the queue is deleted after it, outside the measurement, so that the silo's
    /// memory holds no round's queue but the one measured (a purged queue keeps its duplicate-detection ids).
    /// </summary>
    private async Task EnqueueRoundAsync(OrleansQueueTarget target, EnqueueRounds rounds, string queue, int count, bool deleteAfter)
    {
        var cpu = CpuMeter.Start(target);
        var sent = await Producer.SendAsync(target, queue, count, settings.InFlight);
        rounds.Add(sent, cpu.PerMessage(count));
        if (deleteAfter)
        {
            await target.DeleteAsync(queue);
        }
    }

    /// <summary>The rounds of one W4 rate: reported by the median round's rate and the mean round's CPU per message.</summary>
    private sealed class EnqueueRounds(string workload, string note)
    {
        private readonly List<double> _rates = [];
        private readonly List<(double? Server, double Client)> _cpu = [];
        private int _confirmed;
        private string? _firstError;

        public void Add(Producer.Outcome sent, (double? Server, double Client) cpu)
        {
            _rates.Add(sent.Confirmed / sent.Seconds);
            _cpu.Add(cpu);
            _confirmed += sent.Confirmed;
            _firstError ??= sent.FirstError;
        }

        public BenchResult ToResult(OrleansQueueTarget target, int count, string? extra = null)
        {
            var median = _rates.Order().ElementAt(_rates.Count / 2);
            var rounds = $"rounds {string.Join(", ", _rates.Select(r => r.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)))} msgs/s";
            return new BenchResult
            {
                System = target.System, Durability = target.Durability, Workload = workload, Messages = count * _rates.Count, Confirmed = _confirmed, Delivered = _confirmed,
                SentPerSecond = median, PeakMemoryMb = Mb(target.PeakMemoryBytes()),
                ServerCpuUs = _cpu.Average(c => c.Server), ClientCpuUs = _cpu.Average(c => c.Client),
                Note = string.Join("; ", new[] { note, rounds, extra, _firstError }.Where(n => !string.IsNullOrEmpty(n))),
            };
        }
    }

    private static BenchResult Result(IBenchTarget target, string workload, int count, Producer.Outcome sent, Recorder recorder, double consumeSeconds, bool latency, CpuMeter cpu)
    {
        // A row that did not drain waited out the drain timeout: its CPU per message would mostly be that wait.
        var drained = recorder.Distinct >= count;
        var (serverCpu, clientCpu) = cpu.PerMessage(count);
        var percentiles = latency ? recorder.Percentiles() : null;
        var notes = new List<string>();
        if (sent.Failed > 0)
        {
            notes.Add($"{sent.Failed:N0} sends failed ({sent.FirstError})");
        }

        if (recorder.Distinct < sent.Confirmed)
        {
            notes.Add($"{sent.Confirmed - recorder.Distinct:N0} confirmed messages not delivered within the drain timeout");
        }

        if (recorder.Unexpected > 0)
        {
            notes.Add($"{recorder.Unexpected:N0} unexpected messages");
        }

        return new BenchResult
        {
            System = target.System,
            Durability = target.Durability,
            Workload = workload,
            Messages = count,
            Confirmed = sent.Confirmed,
            Delivered = recorder.Distinct,
            Duplicates = recorder.Duplicates,
            SentPerSecond = sent.Confirmed / sent.Seconds,
            ConsumedPerSecond = consumeSeconds > 0 ? recorder.Distinct / consumeSeconds : null,
            P50Ms = percentiles?.P50,
            P99Ms = percentiles?.P99,
            P999Ms = percentiles?.P999,
            ConfirmP50Ms = latency ? sent.ConfirmMs?.P50 : null,
            ConfirmP99Ms = latency ? sent.ConfirmMs?.P99 : null,
            PeakMemoryMb = Mb(target.PeakMemoryBytes()),
            ServerCpuUs = drained ? serverCpu : null,
            ClientCpuUs = drained ? clientCpu : null,
            Note = notes.Count > 0 ? string.Join("; ", notes) : null,
        };
    }

    /// <summary>Collects this process's garbage before a measured phase, so the harness's GC does not land in it.</summary>
    private static void SettleHarnessHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static double Seconds(long start, long end) => end > start ? (end - start) / (double)Stopwatch.Frequency : 0;

    private static double? Mb(long? bytes) => bytes / (1024.0 * 1024.0);
}

/// <summary>What a run measures; <c>--smoke</c> shrinks everything so the test command can run it.</summary>
public sealed record BenchSettings
{
    public int Messages { get; init; } = 100_000;
    public int InFlight { get; init; } = 1000;
    public int Prefetch { get; init; } = 1000;

    /// <summary>OrleansQueue's push batch (ConsumerOptions.MaxBatchSize): deliveries per call to the consumer.</summary>
    public int PushBatch { get; init; } = 100;
    public double PacedSeconds { get; init; } = 20;
    public int[] PacedRates { get; init; } = [1000, 5000];
    public int Backlog { get; init; } = 1_000_000;

    /// <summary>Messages of an unrecorded W1 before the measured workloads: JIT, thread pools and connections warm up.</summary>
    public int WarmUp { get; init; } = 200_000;

    /// <summary>Message bytes per W1 matrix cell: the cell's message count is this ÷ its body size, within the bounds below.</summary>
    public long MatrixBytes { get; init; } = 192L * 1024 * 1024;

    public int MatrixMinMessages { get; init; } = 2_000;

    public int MatrixMaxMessages { get; init; } = 50_000;

    /// <summary>The message count of a matrix cell with bodies of <paramref name="size"/> bytes.</summary>
    public int MatrixMessages(int size) => (int)Math.Clamp(MatrixBytes / size, MatrixMinMessages, MatrixMaxMessages);
}
