using OrleansQueue.Scheduling;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Unit;

/// <summary>The schedule's store alone, on an in-memory record store that copies what it stores and can fail a write.</summary>
public sealed class ScheduleStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    private static ScheduleStore NewStore(MemoryRecordStore records) => new(records, 64 * 1024);

    private static List<StoredMessage> Messages(int count, Func<int, DateTimeOffset> due, string prefix = "m") =>
        Enumerable.Range(0, count).Select(i => new StoredMessage { Id = $"{prefix}{i}", Body = new byte[10], EnqueuedAt = Now, ScheduledEnqueueTime = due(i) }).ToList();

    private static Task AppendAsync(ScheduleStore store, List<StoredMessage> entries) => store.AppendAsync(entries, e => 100 + e.Body.Length, Now);

    [Fact]
    public async Task DueMessages_AreReadInTimeOrder_AndOnlyThoseDue()
    {
        var records = new MemoryRecordStore();
        var store = NewStore(records);
        await store.LoadAsync();
        await AppendAsync(store, Messages(50, i => Now.AddMinutes(10 + (i % 5))));
        Assert.Equal(50, store.Count);
        Assert.Equal(Now.AddMinutes(10), store.NextDue);

        Assert.Empty((await store.ReadDueAsync(Now.AddMinutes(9), 1000, long.MaxValue)).Messages);
        var batch = await store.ReadDueAsync(Now.AddMinutes(11), 1000, long.MaxValue);
        var due = batch.Messages;
        Assert.Equal(20, due.Count); // due at +10 and +11 minutes
        Assert.True(due.Select(e => e.ScheduledEnqueueTime).SequenceEqual(due.Select(e => e.ScheduledEnqueueTime).Order()));
        Assert.Equal(50, store.Count); // a read changes nothing
        await store.RemoveAsync(due.Select(e => e.Seq).ToList(), batch.After);
        Assert.Equal((30L, Now.AddMinutes(12)), (store.Count, store.NextDue));

        // A fresh load sees the same; the batch limits hold.
        var again = NewStore(records);
        await again.LoadAsync();
        Assert.Equal(30, again.Count);
        Assert.Equal(7, (await again.ReadDueAsync(Now.AddHours(1), 7, long.MaxValue)).Messages.Count);
        Assert.Equal(2, (await again.ReadDueAsync(Now.AddHours(1), 1000, 25)).Messages.Count); // 10-byte bodies: two fit 25 bytes
        Assert.Single((await again.ReadDueAsync(Now.AddHours(1), 1000, 1)).Messages); // the first always
    }

    [Fact]
    public async Task AnAppendWhoseIndexWriteFailed_IsNeverCounted_AndTheIndexNamesEveryRecord()
    {
        var records = new MemoryRecordStore();
        var store = NewStore(records);
        await store.LoadAsync();
        await AppendAsync(store, Messages(10, _ => Now.AddMinutes(5)));

        // The next append's last index write fails: its chunks landed, the index never confirmed them.
        var indexWrites = 0;
        records.FailWrite = name => name == StateNames.ScheduleIndex && ++indexWrites == 2;
        await Assert.ThrowsAsync<IOException>(() => AppendAsync(store, Messages(30, _ => Now.AddMinutes(5), "lost")));
        records.FailWrite = null;

        var reloaded = NewStore(records);
        await reloaded.LoadAsync();
        Assert.Equal(10, reloaded.Count);
        await AppendAsync(reloaded, Messages(5, _ => Now.AddMinutes(5), "kept")); // over the unconfirmed slots, by their ETags
        var due = (await reloaded.ReadDueAsync(Now.AddMinutes(6), 1000, long.MaxValue)).Messages;
        Assert.Equal(15, due.Count);
        Assert.DoesNotContain(due, e => e.Id.StartsWith("lost", StringComparison.Ordinal));
        Assert.Equal(15, due.Select(e => e.Seq).Distinct().Count());

        // Every record it ever wrote is named by the index: clearing leaves nothing.
        Assert.Equal(15, await reloaded.ClearAsync(deleteIndex: true));
        Assert.Empty(records.Names);
    }

    [Fact]
    public async Task AMoveRecordedThenCutShort_LeavesTheMessagesDue_AndTheirSegmentsCounted()
    {
        var records = new MemoryRecordStore();
        var store = NewStore(records);
        await store.LoadAsync();
        await AppendAsync(store, Messages(3, _ => Now.AddMinutes(1)));
        var batch = await store.ReadDueAsync(Now.AddMinutes(2), 1000, long.MaxValue);
        await store.BeginMoveAsync(batch.Messages, fromSeq: 7);

        // A crash: loaded again, the move is there, and the messages are still due.
        var reloaded = NewStore(records);
        await reloaded.LoadAsync();
        Assert.Equal(3, reloaded.Moving?.Numbers.Length);
        Assert.Equal((3L, Now.AddMinutes(1)), (reloaded.Count, reloaded.NextDue));
        await reloaded.RemoveAsync([batch.Messages[0].Seq]); // one had landed in the queue
        Assert.Null(reloaded.Moving);
        Assert.Equal(2, (await reloaded.ReadDueAsync(Now.AddMinutes(2), 1000, long.MaxValue)).Messages.Count);
    }

    [Fact]
    public async Task Capacity_CountsSegmentsThatAppendsFill_AndOnlyNewBuckets()
    {
        var records = new MemoryRecordStore();
        var store = NewStore(records);
        await store.LoadAsync();
        await AppendAsync(store, Messages(10, _ => Now.AddMinutes(1)));
        Assert.Equal(0, store.NewSegmentsFor(Messages(10, _ => Now.AddMinutes(1)), e => 110, Now)); // the open segment takes them
        Assert.Equal(2, store.NewSegmentsFor(Messages(2 * ScheduleStore.SegmentMaxEntries, _ => Now.AddMinutes(1)), e => 110, Now)); // it fills: two more
        var spread = Messages(100, i => Now.AddDays(1 + i));
        Assert.Equal(100, store.NewSegmentsFor(spread, e => 110, Now));
        Assert.Equal(ScheduleStore.MaxNewSegmentsPerAppend, store.Fits(spread, e => 110, Now));
    }

    [Fact]
    public async Task Cancel_FindsOneMessageByItsNumber_AndAnEmptiedSegmentLeavesStorage()
    {
        var records = new MemoryRecordStore();
        var store = NewStore(records);
        await store.LoadAsync();
        var entries = Messages(3, i => Now.AddDays(i + 1)); // three buckets, three segments
        await AppendAsync(store, entries);
        var reads = records.Reads;
        var found = await store.FindAsync(entries[1].Seq);
        Assert.Equal("m1", found?.Id);
        Assert.True(records.Reads - reads <= 1);
        Assert.Null(await store.FindAsync(entries[1].Seq + 1));
        Assert.Null(await store.FindAsync(5));

        var (segment, chunk, _) = ScheduleStore.Decode(entries[1].Seq);
        Assert.True(records.Has(StateNames.ScheduleChunk(segment, chunk)));
        await store.RemoveAsync([entries[1].Seq]);
        Assert.False(records.Has(StateNames.ScheduleChunk(segment, chunk)));
        Assert.Equal((2L, Now.AddDays(1)), (store.Count, store.NextDue));
        Assert.Null(await store.FindAsync(entries[1].Seq));
    }

    [Fact]
    public void Buckets_AreFewHoweverFarAheadMessagesAre_AndNumbersDecode()
    {
        var random = new Random(7);
        var buckets = Enumerable.Range(0, 100_000).Select(_ => ScheduleStore.BucketOf(Now.AddSeconds(random.Next(1, 365 * 86_400)), Now)).Distinct().Count();
        Assert.InRange(buckets, 100, 64 * 25);
        Assert.NotEqual(ScheduleStore.BucketOf(Now.AddSeconds(10), Now), ScheduleStore.BucketOf(Now.AddSeconds(11), Now)); // 1 s wide near now
        Assert.Equal(ScheduleStore.BucketOf(Now.AddDays(7), Now), ScheduleStore.BucketOf(Now.AddDays(7).AddSeconds(1), Now));

        var number = ScheduleStore.Number(123_456, 4000, 15);
        Assert.True(number >= QueueLimits.FirstScheduledSequenceNumber);
        Assert.Equal((123_456L, 4000, 15), ScheduleStore.Decode(number));
    }

    [Fact]
    public void AFullIndex_FitsAzureTablesRecordLimit_AsJson()
    {
        var index = new ScheduleIndexState { NextSegment = long.MaxValue / 2 };
        for (var i = 0; i < ScheduleStore.MaxSegments; i++)
        {
            index.Segments.Add(new ScheduleSegmentInfo
            {
                Id = long.MaxValue / 2 - i, Bucket = long.MaxValue - i, Chunks = 100, LastChunkSlots = 15, LastChunkBytes = 160_000,
                Live = 1024, Appended = 1024, MinDue = DateTimeOffset.MaxValue, LiveBodyBytes = 16_000_000, LastAppendAt = Now,
                NamedChunks = 100, AppendedBytes = 16_000_000, Closed = true,
            });
        }

        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(index).Length;
        Assert.InRange(bytes, 1, 900 * 1024); // the Azure Table provider's limit for one record, which the silo checks
    }
}
