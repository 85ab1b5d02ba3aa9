using System.Text;

namespace OrleansQueue;

/// <summary>A conservative estimate of how large a message is once serialized into a segment (JSON, body as base64).</summary>
internal static class SegmentSizing
{
    /// <summary>Room for property names, type tags, sequence number and time.</summary>
    private const int PerMessageOverhead = 512;

    /// <summary>Quotes, colon and comma around one header.</summary>
    private const int HeaderEntryOverhead = 8;

    /// <summary>Room for an optional field's name, quotes, colon and comma (the trace context, a duplicate-detection key).</summary>
    private const int FieldOverhead = 32;

    /// <summary>The length of a W3C <c>traceparent</c> (version 00), the most a message stores of its send's trace.</summary>
    public const int TraceParentLength = 55;

    public static long EstimateBytes(OutgoingMessage message, string messageId, string? traceParent = null, string? dedupKey = null)
    {
        long bytes = PerMessageOverhead + Base64Length(message.Body.Length) + 2L * messageId.Length;
        if (traceParent is not null)
        {
            bytes += FieldOverhead + traceParent.Length;
        }

        if (dedupKey is not null)
        {
            bytes += FieldOverhead + 2L * dedupKey.Length;
        }

        if (message.ContentType is { } contentType)
        {
            bytes += 2L * contentType.Length;
        }

        bytes += Text(message.CorrelationId) + Text(message.ReplyTo) + Text(message.Subject);
        if (message.Headers is { } headers)
        {
            foreach (var (key, value) in headers)
            {
                // Headers have no control characters, so JSON escapes at most double a character.
                bytes += HeaderEntryOverhead + 2L * (Utf8(key) + Utf8(value));
            }
        }

        return bytes;
    }

    /// <summary>The estimate for a message read back from storage.</summary>
    public static long EstimateBytes(OrleansQueue.Storage.StoredMessage message) =>
        EstimateBytes(OrleansQueue.Delivery.MessageViews.ToOutgoingMessage(message), message.Id, message.TraceParent, message.DedupKey);

    /// <summary>The estimate for the largest message that a body limit allows, with the largest headers.</summary>
    public static int MaxEstimatedMessageBytes(int maxBodyBytes) =>
        (int)(PerMessageOverhead + FieldOverhead + TraceParentLength + FieldOverhead + 2L * QueueLimits.MaxMessageIdLength
              + Base64Length(maxBodyBytes) + 2L * QueueLimits.MaxMessageIdLength
              + 2L * QueueLimits.MaxContentTypeLength + 2L * QueueLimits.MaxHeadersBytes
              + 3L * FieldOverhead + 2L * (QueueLimits.MaxCorrelationIdBytes + QueueLimits.MaxReplyToBytes + QueueLimits.MaxSubjectBytes)
              + (long)HeaderEntryOverhead * QueueLimits.MaxHeaderCount);

    /// <summary>An optional text field: its name, and its UTF-8 bytes doubled (no control characters, so JSON escapes at most double one).</summary>
    private static long Text(string? value) => value is null ? 0 : FieldOverhead + 2L * Utf8(value);

    private static long Base64Length(long bytes) => (bytes + 2) / 3 * 4;

    internal static int Utf8(string s) => Encoding.UTF8.GetByteCount(s);
}
