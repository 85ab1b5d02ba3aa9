using OrleansQueue.Benchmarks.Harness;

namespace OrleansQueue.Benchmarks.Tests;

/// <summary>The benchmark's model of a queue with one write in flight, on hand-checked cases.</summary>
public sealed class SingleWriterModelTests
{
    [Fact]
    public void WritesFasterThanArrivals_CostOneWriteAndOneRoundTrip()
    {
        var latencies = SingleWriterModel.Latencies([4, 4, 4], [3], interval: 10);
        Assert.Equal([7, 7, 7], latencies);
    }

    [Fact]
    public void AMessageArrivingDuringAWrite_WaitsForItThenForItsOwn()
    {
        // Sent at 0, 2, 4, 6; no round trip. Write 1 (0-5) takes message 0; write 2 (5-10) takes 1 and 2 (arrived by 5);
        // write 3 (10-15) takes 3.
        var latencies = SingleWriterModel.Latencies([0, 0, 0, 0], [5], interval: 2);
        Assert.Equal([5, 8, 6, 9], latencies);
    }

    [Fact]
    public void WriteSamplesAreUsedInOrder_AndTheRoundTripSplitsAroundTheWrite()
    {
        // Round trip 3: arrives 1 after sending, confirmed 2 after its write. Writes 10 then 1.
        var latencies = SingleWriterModel.Latencies([3, 3], [10, 1], interval: 100);
        Assert.Equal([13, 4], latencies);
    }

    [Fact]
    public void ArrivalsOutOfSendingOrder_AreWrittenInArrivalOrder()
    {
        // Message 0 (sent at 0) arrives at 5; message 1 (sent at 2) at 2 and is written first (2-5). Message 0 arrives
        // as that write ends and gets the next (5-8), confirmed at 8 + 5 = 13; message 1 at 5 + 0 = 5, 3 after sending.
        var latencies = SingleWriterModel.Latencies([10, 0], [3], interval: 2);
        Assert.Equal([13, 3], latencies);
    }

    [Fact]
    public void WriteSamplesWrapAround_WhenThereAreFewerThanWrites()
    {
        // Writes 1, 4, then 1 again; messages far apart, no round trip.
        var latencies = SingleWriterModel.Latencies([0, 0, 0], [1, 4], interval: 100);
        Assert.Equal([1, 4, 1], latencies);
    }
}

