using System.Text.Json;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Unit;

/// <summary>The segmented log alone, on an in-memory record store that copies what it stores (as storage does) and can fail a write.</summary>
public sealed class SegmentedLogTests
{
    private static readonly SegmentLimits FourPerSegment = new(4, 1_000_000);

    private static SegmentedLog<DeadLetterSegment, StoredDeadLetter> NewLog(MemoryRecordStore store, SegmentLimits? limits = null) =>
        new(store, static (id, _) => StateNames.DeadLetterSegment(id), limits ?? FourPerSegment, e => 100 + e.Message.Body.Length, parallelWrites: 8);

    private static List<StoredDeadLetter> Entries(long from, int count, int bodyBytes = 1) =>
        Enumerable.Range(0, count).Select(i => new StoredDeadLetter
        {
            EntryId = from + i,
            SourceQueue = "q",
            Message = new StoredMessage { Id = $"m{from + i}", Body = new byte[bodyBytes] },
        }).ToList();

    private static async Task<SegmentedLog<DeadLetterSegment, StoredDeadLetter>> OpenAsync(MemoryRecordStore store, long head = 0, long tailHint = 0, long nextId = 1)
    {
        var log = NewLog(store);
        await log.OpenAsync(head, tailHint, nextId);
        return log;
    }

    private static async Task<List<long>> ScanAllAsync(SegmentedLog<DeadLetterSegment, StoredDeadLetter> log)
    {
        var ids = new List<long>();
        await log.ScanAsync(0, int.MaxValue, e =>
        {
            ids.Add(e.EntryId);
            return true;
        });
        return ids;
    }

    [Fact]
    public async Task Append_FillsTheTailThenStartsSegments_OneWritePerSegmentTouched()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);

        Assert.Equal(2, await log.AppendAsync(Entries(1, 10)));
        Assert.Equal(3, store.Writes);
        Assert.Equal((2L, 11L), (log.TailSegment, log.NextId));
        Assert.Equal([4, 4, 2], Enumerable.Range(0, 3).Select(i => store.Get<DeadLetterSegment>($"oq-dl-seg-{i}")!.Entries.Count));

        Assert.Equal(0, await log.AppendAsync(Entries(11, 2)));
        Assert.Equal(4, store.Writes); // the tail's room first: one write
        Assert.Equal(1, await log.AppendAsync(Entries(13, 1)));
        Assert.Equal(5, store.Writes); // a full tail is not written again

        // The byte limit: entries of 400 bytes (+100 estimated), 1,000 bytes a segment: two each.
        var bytes = new MemoryRecordStore();
        var byBytes = NewLog(bytes, new SegmentLimits(100, 1000));
        await byBytes.OpenAsync(0, 0, 1);
        Assert.Equal(2, await byBytes.AppendAsync(Entries(1, 5, bodyBytes: 400)));
        Assert.Equal([2, 2, 1], Enumerable.Range(0, 3).Select(i => bytes.Get<DeadLetterSegment>($"oq-dl-seg-{i}")!.Entries.Count));

        // One entry larger than a whole segment still goes in, alone.
        Assert.Equal(1, await byBytes.AppendAsync(Entries(6, 1, bodyBytes: 5000)));
        Assert.Single(bytes.Get<DeadLetterSegment>("oq-dl-seg-3")!.Entries);
        await Assert.ThrowsAsync<ArgumentException>(() => byBytes.AppendAsync(Entries(3, 1))); // an id handed out before
    }

    [Fact]
    public async Task Open_ProbesForwardPastAStaleTailHint()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);
        await log.AppendAsync(Entries(1, 10));

        var reopened = NewLog(store);
        var found = await reopened.OpenAsync(0, 1, 1); // a cursor written when segment 1 was the tail
        Assert.Equal(2, found.Count);
        Assert.Equal((2L, 11L), (reopened.TailSegment, reopened.NextId));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), await ScanAllAsync(reopened));
    }

    [Fact]
    public async Task AnEmptiedTail_KeepsItsIds_AfterAReopen()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);
        await log.AppendAsync(Entries(1, 3));
        log.CursorStored(0);
        await log.RemoveAsync(await log.FindAsync([1, 2, 3]));
        Assert.Empty(store.Get<DeadLetterSegment>("oq-dl-seg-0")!.Entries); // the tail is never deleted
        Assert.Equal(4, log.NextId);

        // A cursor that knows nothing of them (written before the adds): the segment still says which ids were used.
        var reopened = await OpenAsync(store);
        Assert.Equal(4, reopened.NextId);
        await reopened.AppendAsync(Entries(4, 1));

        // A record written before segments kept their last id, emptied: the cursor's record of ids handed out counts.
        var old = new MemoryRecordStore();
        old.Put("oq-dl-seg-0", new DeadLetterSegment { FirstEntryId = 5 });
        Assert.Equal(9, (await OpenAsync(old, nextId: 9)).NextId);
        Assert.Equal(5, (await OpenAsync(old)).NextId);
    }

    [Fact]
    public async Task EmptyHeadSegments_AreDeleted_ButNeverFromTheStoredTailHintOn()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);
        await log.AppendAsync(Entries(1, 12)); // segments 0, 1, 2
        log.CursorStored(0); // the owner's cursor still names segment 0: a probe must start from a segment that exists

        await log.RemoveAsync(await log.FindAsync(Enumerable.Range(1, 8).Select(i => (long)i)));
        Assert.Equal(0, log.HeadSegment);
        Assert.NotNull(store.Get<DeadLetterSegment>("oq-dl-seg-0"));

        log.CursorStored(2);
        while (await log.DeleteHeadAsync(log.HeadSegment, static head => head.Entries.Count == 0))
        {
        }
        Assert.Equal(2, log.HeadSegment);
        Assert.Null(store.Get<DeadLetterSegment>("oq-dl-seg-0"));
        Assert.Null(store.Get<DeadLetterSegment>("oq-dl-seg-1"));

        await log.RemoveAsync(await log.FindAsync(Enumerable.Range(9, 4).Select(i => (long)i)));
        Assert.Equal(2, log.HeadSegment); // the tail stays, empty
        var reopened = await OpenAsync(store, head: 2, tailHint: 2);
        Assert.Equal((2L, 13L), (reopened.TailSegment, reopened.NextId));
        Assert.Empty(await ScanAllAsync(reopened));
    }

    [Fact]
    public async Task ABoundedScan_GoesOnWhereItStopped_AndReachesEveryEntry()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);
        await log.AppendAsync(Entries(1, 40)); // 10 segments
        log.CursorStored(log.TailSegment);
        var keep = new long[] { 3, 22, 23, 38, 40 };
        await log.RemoveAsync(await log.FindAsync(Enumerable.Range(1, 40).Select(i => (long)i).Except(keep)));
        Assert.Equal(0, log.HeadSegment); // entry 3 keeps segment 0

        var seen = new List<long>();
        var calls = 0;
        for (long? from = 0; from is { } next; calls++)
        {
            from = await log.ScanAsync(next, 2, e =>
            {
                seen.Add(e.EntryId);
                return true;
            });
        }

        Assert.Equal(keep, seen);
        Assert.Equal(5, calls); // 10 segments, 2 a call

        // A visitor that stops: the scan goes on from the entry it stopped before.
        var firstTwo = new List<long>();
        var resume = await log.ScanAsync(0, 100, e =>
        {
            if (firstTwo.Count == 2)
            {
                return false;
            }

            firstTwo.Add(e.EntryId);
            return true;
        });
        Assert.Equal([3L, 22L], firstTwo);
        Assert.Equal(23, resume);
    }

    [Fact]
    public async Task Find_ReturnsOnlyEntriesThatExist_ReadingEachSegmentOnce()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);
        await log.AppendAsync(Entries(1, 12));
        log.CursorStored(log.TailSegment);
        await log.RemoveAsync(await log.FindAsync([2, 3]));

        var reads = store.Reads;
        var found = await log.FindAsync([1, 2, 3, 4, 5, 99, -1, 4]);
        Assert.Equal([1L, 4L, 5L], found.Entries.Select(e => e.EntryId));
        Assert.True(store.Reads - reads <= 3, $"{store.Reads - reads} reads"); // segment 0, segment 1, and a binary-search step
    }

    [Fact]
    public async Task AFailedWrite_LeavesTheSegmentsThatLanded_AndAReopenFillsTheGapBeforeThem()
    {
        var store = new MemoryRecordStore();
        var log = await OpenAsync(store);
        store.FailWriteNumber = 2; // segment 1 of 0, 1, 2, written at once
        await Assert.ThrowsAsync<IOException>(() => log.AppendAsync(Entries(1, 10)));
        Assert.Null(store.Get<DeadLetterSegment>("oq-dl-seg-1"));

        var reopened = await OpenAsync(store);
        Assert.Equal([1L, 2L, 3L, 4L, 9L, 10L], await ScanAllAsync(reopened)); // 5-8 were never stored
        Assert.Equal((2L, 11L), (reopened.TailSegment, reopened.NextId));
        Assert.Empty(store.Get<DeadLetterSegment>("oq-dl-seg-1")!.Entries); // filled, so the segments follow each other
        Assert.Equal(1, await reopened.SegmentOfAsync(5));
        Assert.Equal(2, await reopened.SegmentOfAsync(9));

        // Only a gap shorter than one round of writes is looked past: an empty log stays empty.
        Assert.Equal(0, (await OpenAsync(new MemoryRecordStore())).TailSegment);

        // A removal whose write failed changes nothing; applied again after a reopen, it completes.
        reopened.CursorStored(reopened.TailSegment);
        store.FailWriteNumber = store.Writes + 1;
        var selection = await reopened.FindAsync([2, 3]);
        await Assert.ThrowsAsync<IOException>(() => reopened.RemoveAsync(selection));
        var again = await OpenAsync(store);
        Assert.Equal([1L, 2L, 3L, 4L, 9L, 10L], await ScanAllAsync(again));
        await again.RemoveAsync(await again.FindAsync([2, 3]));
        Assert.Equal([1L, 4L, 9L, 10L], await ScanAllAsync(again));
    }

    /// <summary>The queue's layout: segments of four messages (eight within one append) stored in chunk records of two.</summary>
    private static readonly SegmentLimits Chunked = new(4, 1_000_000) { Stretch = 2, ChunkMaxEntries = 2 };

    private static SegmentedLog<SegmentState, StoredMessage> NewMessageLog(MemoryRecordStore store) =>
        new(store, StateNames.SegmentChunk, Chunked, m => 100 + m.Body.Length, parallelWrites: 1);

    private static StoredMessage Message(long seq) => new() { Id = $"m{seq}", Seq = seq, Body = [1] };

    /// <summary>The sequence numbers a chunk record holds, from its first sequence number, or "none".</summary>
    private static string Chunk(MemoryRecordStore store, long segment, int chunk) =>
        store.Get<SegmentState>(StateNames.SegmentChunk(segment, chunk)) is { } state
            ? $"{state.FirstSequence}:{string.Join(",", state.Messages.Select(m => m.Seq))}"
            : "none";

    [Fact]
    public async Task AChunkedLog_WritesOnlyTheLastChunk_ReadsSegmentsWhole_AndDeletesEveryChunk()
    {
        var store = new MemoryRecordStore();
        var log = NewMessageLog(store);
        await log.OpenAsync(0, 0, 1);
        for (var seq = 1; seq <= 6; seq++)
        {
            await log.AppendAsync([Message(seq)]);
        }

        // One write a message: the small last chunk rewritten, then a new chunk record once it holds two.
        Assert.Equal(6, store.Writes);
        Assert.Equal(["1:1,2", "3:3,4", "5:5,6", "none"], new[] { Chunk(store, 0, 0), Chunk(store, 0, 1), Chunk(store, 1, 0), Chunk(store, 1, 1) });

        // An append crossing the count stretches the segment it writes, in one write of a new chunk.
        var append = log.BeginAppend();
        Assert.Equal([1L, 1, 1, 1, 1], Enumerable.Range(7, 5).Select(seq => append.Add(Message(seq), 101)));
        Assert.Equal((1L, 1, 2), (Assert.Single(append.Writes).Id, append.Writes[0].Chunk, append.Writes[0].ChunkStart));
        var landed = new List<long>();
        Assert.True(await log.WriteAsync(append.Writes, segment =>
        {
            landed.Add(segment.Id);
            return true;
        }));
        Assert.Equal([1L], landed);
        Assert.Equal("7:7,8,9,10,11", Chunk(store, 1, 1));

        // Reopened from a lagging hint: the segments are found and read whole, chunk by chunk.
        var reopened = NewMessageLog(store);
        var found = await reopened.OpenAsync(0, 0, 1);
        Assert.Equal([(0L, 4), (1L, 7)], found.Select(s => (s.Id, s.Segment.Messages.Count)));
        Assert.Equal((1L, 1, 2, 12L), (reopened.TailSegment, reopened.Tail.Chunk, reopened.Tail.ChunkStart, reopened.NextId));
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), (await reopened.ReadAsync(0))!.Messages.Concat((await reopened.ReadAsync(1))!.Messages).Select(m => m.Seq));
        Assert.Equal(1, await reopened.AppendAsync([Message(12)])); // segment 1 is full: a new one
        var removal = await reopened.FindAsync([1]);
        await Assert.ThrowsAsync<InvalidOperationException>(() => reopened.RemoveAsync(removal)); // chunked: whole segments only

        // The head goes whole, the last chunk first; never from the stored tail hint on, nor a segment that is not the head.
        Assert.False(await reopened.DeleteHeadAsync(0, _ => true));
        reopened.CursorStored(reopened.TailSegment);
        await Assert.ThrowsAsync<InvalidOperationException>(() => reopened.DeleteHeadAsync(1, _ => true));
        Assert.False(await reopened.DeleteHeadAsync(0, segment => segment.Messages.Count == 0));
        Assert.True(await reopened.DeleteHeadAsync(0, segment => segment.Messages.Count == 4));
        Assert.Equal(["none", "none"], new[] { Chunk(store, 0, 0), Chunk(store, 0, 1) });
        Assert.Equal(["oq-seg-0-c1", "oq-seg-0"], store.Deleted);
        Assert.True(await reopened.DeleteHeadAsync(0, _ => false)); // gone already
        Assert.Equal(1, reopened.HeadSegment);
    }

    [Fact]
    public async Task AChunkedLog_RefusesAChunkThatDoesNotFollowThePreviousOne()
    {
        var store = new MemoryRecordStore();
        store.Put(StateNames.SegmentChunk(0, 0), new SegmentState { FirstSequence = 1, Messages = [Message(1), Message(2)] });
        store.Put(StateNames.SegmentChunk(0, 1), new SegmentState { FirstSequence = 4, Messages = [Message(4)] });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => NewMessageLog(store).OpenAsync(0, 0, 1));
        Assert.Contains("oq-seg-0-c1", error.Message);
    }

    private static SegmentedLog<SegmentState, StoredMessage> NewParallelMessageLog(MemoryRecordStore store) =>
        new(store, StateNames.SegmentChunk, Chunked, m => 100 + m.Body.Length, parallelWrites: 4, LogGapRepair.DeleteWhatFollows);

    private static List<StoredMessage> Messages(long from, long to) => [.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(seq => Message(seq))];

    [Theory]
    [InlineData(1, 3L)] // the tail's new chunk (3-8) fails; segments 1-3 land after it: deleted
    [InlineData(2, 9L)] // segment 1 (9-16) fails; 2 and 3 land after the gap: deleted
    [InlineData(4, 25L)] // the last segment (25-26) fails: nothing lies after it
    public async Task AQueueLog_WritingSegmentsInParallel_DeletesWhatLandedAfterAFailedWrite_SoIdsLeaveNoHole(int failedWrite, long nextId)
    {
        var store = new MemoryRecordStore();
        var log = NewParallelMessageLog(store);
        await log.OpenAsync(0, 0, 1);
        await log.AppendAsync(Messages(1, 2));

        // One append of 24 messages: segment 0's new chunk (3-8) and segments 1 (9-16), 2 (17-24) and 3 (25, 26), at once.
        store.FailWriteNumber = store.Writes + failedWrite;
        await Assert.ThrowsAsync<IOException>(() => log.AppendAsync(Messages(3, 26)));

        var reopened = NewParallelMessageLog(store);
        var found = await reopened.OpenAsync(0, 0, 1);
        var stored = found.SelectMany(s => s.Segment.Messages).Select(m => m.Seq).ToList();
        Assert.Equal(Enumerable.Range(1, (int)nextId - 1).Select(i => (long)i), stored); // a prefix, without a hole
        Assert.Equal(nextId, reopened.NextId);
        for (var segment = reopened.TailSegment + 1; segment <= 4; segment++)
        {
            Assert.Equal("none", Chunk(store, segment, 0));
        }

        // The next append goes on from there, and a reopen finds every id once.
        await reopened.AppendAsync(Messages(nextId, 30));
        var again = await NewParallelMessageLog(store).OpenAsync(0, 0, 1);
        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), again.SelectMany(s => s.Segment.Messages).Select(m => m.Seq));
    }

    [Fact]
    public async Task AQueueLog_DeletingWhatFollowsAGap_CutShort_FinishesAtTheNextOpening()
    {
        var store = new MemoryRecordStore();
        store.Put(StateNames.SegmentChunk(0, 0), new SegmentState { FirstSequence = 1, Messages = [Message(1), Message(2)] });
        store.Put(StateNames.SegmentChunk(2, 0), new SegmentState { FirstSequence = 9, Messages = [Message(9), Message(10)] });
        store.Put(StateNames.SegmentChunk(2, 1), new SegmentState { FirstSequence = 11, Messages = [Message(11)] });
        store.Put(StateNames.SegmentChunk(3, 0), new SegmentState { FirstSequence = 12, Messages = [Message(12)] });
        store.FailDeleteNumber = 2; // segment 3 goes, then deleting segment 2's last chunk fails
        await Assert.ThrowsAsync<IOException>(() => NewParallelMessageLog(store).OpenAsync(0, 0, 1));
        Assert.Equal(["none", "9:9,10", "11:11"], new[] { Chunk(store, 3, 0), Chunk(store, 2, 0), Chunk(store, 2, 1) });

        var log = NewParallelMessageLog(store);
        Assert.Single(await log.OpenAsync(0, 0, 1));
        Assert.Equal((0L, 3L), (log.TailSegment, log.NextId));
        Assert.Equal(["none", "none"], new[] { Chunk(store, 2, 0), Chunk(store, 2, 1) });
        Assert.Equal(["oq-seg-3", "oq-seg-2-c1", "oq-seg-2"], store.Deleted);
    }

    [Fact]
    public async Task ALogWritingOneSegmentAtATime_LooksForNoGap()
    {
        var store = new MemoryRecordStore();
        store.Put(StateNames.SegmentChunk(0, 0), new SegmentState { FirstSequence = 1, Messages = [Message(1)] });
        store.Put(StateNames.SegmentChunk(2, 0), new SegmentState { FirstSequence = 9, Messages = [Message(9)] });
        var log = NewMessageLog(store);
        await log.OpenAsync(0, 0, 1);
        Assert.Equal((0L, 2L), (log.TailSegment, log.NextId));
        Assert.Equal(0, store.Writes);
    }
}
