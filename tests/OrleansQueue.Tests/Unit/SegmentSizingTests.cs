using System.Text;
using Newtonsoft.Json;
using Orleans.Serialization;
using OrleansQueue.Storage;
using OrleansQueue.Tests.Infrastructure;

namespace OrleansQueue.Tests.Unit;

/// <summary>
/// The segment size estimate must stay above what a message really takes once serialized, so that a segment written
/// to its byte limit still fits one storage record. Checked against Orleans' own JSON settings for grain storage (the
/// provider's default, and the larger of the serializers a silo may use).
/// </summary>
public sealed class SegmentSizingTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    private JsonSerializerSettings OrleansJson => OrleansJsonSerializerSettings.GetDefaultSerializerSettings(fixture.Cluster.Client.ServiceProvider);

    public static TheoryData<string, bool, bool, int> Messages => new()
    {
        { "plain", false, false, 0 },
        { "traced", true, false, 0 },
        { "redriven", false, true, 0 },
        { "traced, redriven, leased, headers", true, true, 3 },
        { "traced, redriven, leased, many headers", true, true, 40 },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Estimate_IsAtLeastTheSerializedSize_OfEveryField(string what, bool traced, bool redriven, int headers)
    {
        var message = Message(traced, redriven, headers, bodyBytes: 1000);
        var alone = Serialized([]);
        var withIt = Serialized([message]);

        Assert.True(SegmentSizing.EstimateBytes(message) >= withIt - alone,
            $"{what}: estimated {SegmentSizing.EstimateBytes(message)} bytes, serialized {withIt - alone}");
    }

    [Fact]
    public void Estimate_OfTheLargestMessage_IsAtLeastItsSerializedSize()
    {
        // Every optional field at its longest: the bound the options validator checks SegmentMaxBytes against.
        const int body = 4096;
        var message = Message(traced: true, redriven: true, headers: QueueLimits.MaxHeaderCount, bodyBytes: body, longest: true);
        var serialized = Serialized([message]) - Serialized([]);

        Assert.True(SegmentSizing.EstimateBytes(message) >= serialized, $"estimated {SegmentSizing.EstimateBytes(message)}, serialized {serialized}");
        Assert.True(SegmentSizing.MaxEstimatedMessageBytes(body) >= SegmentSizing.EstimateBytes(message));
    }

    [Fact]
    public void TraceContext_AndDedupKey_AreCounted()
    {
        var plain = Message(traced: false, redriven: false, headers: 0, bodyBytes: 10);
        var traced = Message(traced: true, redriven: false, headers: 0, bodyBytes: 10);
        var redriven = Message(traced: false, redriven: true, headers: 0, bodyBytes: 10);

        Assert.True(SegmentSizing.EstimateBytes(traced) >= SegmentSizing.EstimateBytes(plain) + SegmentSizing.TraceParentLength);
        Assert.True(SegmentSizing.EstimateBytes(redriven) >= SegmentSizing.EstimateBytes(plain) + 2 * redriven.DedupKey!.Length);
    }

    private static StoredMessage Message(bool traced, bool redriven, int headers, int bodyBytes, bool longest = false)
    {
        var body = new byte[bodyBytes];
        new Random(7).NextBytes(body);
        var headerValue = longest ? new string('"', QueueLimits.MaxHeadersBytes / Math.Max(1, headers) / 4) : "value \"quoted\"";
        return new StoredMessage
        {
            // Quotes and backslashes are escaped in JSON: the worst case for every string.
            Id = longest ? new string('"', QueueLimits.MaxMessageIdLength) : "order-\"4711\"",
            Seq = long.MaxValue,
            Body = body,
            ContentType = longest ? new string('\\', QueueLimits.MaxContentTypeLength) : "application/json",
            Headers = headers == 0 ? null : Enumerable.Range(0, headers).ToDictionary(i => $"h\"{i}", _ => headerValue),
            EnqueuedAt = DateTimeOffset.MaxValue.AddTicks(-1),
            DedupKey = redriven ? $"redrive:{Guid.NewGuid():N}" : null,
            FirstLeaseToken = Guid.NewGuid(),
            FirstLeasedUntil = DateTimeOffset.MaxValue.AddTicks(-1),
            TraceParent = traced ? $"00-{Convert.ToHexStringLower(new byte[16])}-{Convert.ToHexStringLower(new byte[8])}-01" : null,
            CorrelationId = longest ? new string('"', QueueLimits.MaxCorrelationIdBytes) : headers > 0 ? "request-\"7\"" : null,
            ReplyTo = longest ? new string('\\', QueueLimits.MaxReplyToBytes) : headers > 0 ? "replies.ü" : null,
            Subject = longest ? string.Concat(Enumerable.Repeat("\u00e9", QueueLimits.MaxSubjectBytes / 2)) : headers > 0 ? "" : null,
        };
    }

    private long Serialized(List<StoredMessage> messages) =>
        Encoding.UTF8.GetByteCount(JsonConvert.SerializeObject(new SegmentState { FirstSequence = long.MaxValue, Messages = messages }, OrleansJson));
}
