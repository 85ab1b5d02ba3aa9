using System.Text;

namespace OrleansQueue;

/// <summary>
/// The fixed limits of OrleansQueue and the checks that enforce them. The client handle runs these checks before
/// it calls a queue, and the queue grain runs them again, so a bad argument never reaches storage.
/// </summary>
public static class QueueLimits
{
    /// <summary>Longest queue name, in characters.</summary>
    public const int MaxQueueNameLength = 120;

    /// <summary>Longest message id, in characters.</summary>
    public const int MaxMessageIdLength = 128;

    /// <summary>Longest content type, in characters.</summary>
    public const int MaxContentTypeLength = 256;

    /// <summary>Longest <see cref="OutgoingMessage.CorrelationId"/>, in UTF-8 bytes (an AMQP short string).</summary>
    public const int MaxCorrelationIdBytes = 255;

    /// <summary>Longest <see cref="OutgoingMessage.ReplyTo"/>, in UTF-8 bytes (an AMQP short string).</summary>
    public const int MaxReplyToBytes = 255;

    /// <summary>Longest <see cref="OutgoingMessage.Subject"/>, in UTF-8 bytes (an AMQP short string).</summary>
    public const int MaxSubjectBytes = 255;

    /// <summary>Largest total of header keys and values, in UTF-8 bytes.</summary>
    public const int MaxHeadersBytes = 64 * 1024;

    /// <summary>Most headers on one message.</summary>
    public const int MaxHeaderCount = 128;

    /// <summary>Default largest body, in bytes (256 KiB, as Service Bus standard).</summary>
    public const int DefaultMaxMessageBodyBytes = 256 * 1024;

    /// <summary>Shortest lock duration (and shortest <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>).</summary>
    public static readonly TimeSpan MinLockDuration = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest lock duration any queue allows (a silo's <c>MaxLockDuration</c> may be lower), and the longest
    /// redelivery delay and <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>.
    /// </summary>
    public static readonly TimeSpan MaxLockDuration = TimeSpan.FromHours(12);

    /// <summary>Longest duplicate-detection window of a queue (as Service Bus: 7 days).</summary>
    public static readonly TimeSpan MaxDuplicateDetectionWindow = TimeSpan.FromDays(7);

    /// <summary>How far ahead of the silo's clock a message can be scheduled (<see cref="OutgoingMessage.ScheduledEnqueueTime"/>): 365 days.</summary>
    public static readonly TimeSpan MaxScheduleAhead = TimeSpan.FromDays(365);

    /// <summary>The longest time-to-live of a message or a queue: 3,650 days.</summary>
    public static readonly TimeSpan MaxTimeToLive = TimeSpan.FromDays(3650);

    /// <summary>The shortest time-to-live of a message or a queue: 1 ms.</summary>
    public static readonly TimeSpan MinTimeToLive = TimeSpan.FromMilliseconds(1);

    /// <summary>Throws <see cref="QueueException"/> (<see cref="QueueErrorCode.InvalidArgument"/>) unless <paramref name="timeToLive"/> is from <see cref="MinTimeToLive"/> to <see cref="MaxTimeToLive"/>.</summary>
    public static void ValidateTimeToLive(TimeSpan timeToLive, string what)
    {
        if (timeToLive < MinTimeToLive || timeToLive > MaxTimeToLive)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"{what} must be between {MinTimeToLive.TotalMilliseconds:N0} ms and {MaxTimeToLive.TotalDays:N0} days, not {timeToLive}.");
        }
    }

    /// <summary>
    /// The least sequence number of a scheduled message (2^52): scheduled messages are numbered apart from the queue's
    /// own sequence numbers (which start at 1 and never reach it), so a number says which it is.
    /// </summary>
    public const long FirstScheduledSequenceNumber = 1L << 52;

    /// <summary>Longest wait of a long-polling receive (below the Orleans response timeout of 30 s).</summary>
    public static readonly TimeSpan MaxReceiveWait = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The Orleans response timeout of push calls to consumers (one day): above the longest
    /// <see cref="ConsumerOptions.MaxAutoLockRenewalDuration"/>, so the queue, not Orleans, decides when a handler ran too long.
    /// </summary>
    public const string PushResponseTimeout = "1.00:00:00";

    /// <summary>Throws <see cref="QueueException"/> unless <paramref name="name"/> is a valid queue name.</summary>
    /// <remarks>1 to 120 characters from <c>A-Z a-z 0-9 . _ -</c>, starting with a letter or digit.</remarks>
    public static void ValidateQueueName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new QueueException(QueueErrorCode.InvalidQueueName, "The queue name must not be empty.");
        }

        if (name.Length > MaxQueueNameLength)
        {
            throw new QueueException(QueueErrorCode.InvalidQueueName,
                $"The queue name is {name.Length} characters long; at most {MaxQueueNameLength} are allowed.");
        }

        if (!char.IsAsciiLetterOrDigit(name[0]))
        {
            throw new QueueException(QueueErrorCode.InvalidQueueName,
                $"The queue name must start with an ASCII letter or digit, not {Describe(name[0])}.");
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                throw new QueueException(QueueErrorCode.InvalidQueueName,
                    $"The queue name has {Describe(c)}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed.");
            }
        }
    }

    /// <summary>Throws <see cref="QueueException"/> unless <paramref name="messageId"/> is a valid message id.</summary>
    /// <remarks>1 to 128 printable ASCII characters (space to '~'), none of <c>/ \ # ?</c>.</remarks>
    public static void ValidateMessageId(string? messageId)
    {
        if (string.IsNullOrEmpty(messageId))
        {
            throw new QueueException(QueueErrorCode.InvalidMessageId, "The message id must not be empty.");
        }

        if (messageId.Length > MaxMessageIdLength)
        {
            throw new QueueException(QueueErrorCode.InvalidMessageId,
                $"The message id is {messageId.Length} characters long; at most {MaxMessageIdLength} are allowed.");
        }

        foreach (var c in messageId)
        {
            if (c < ' ' || c > '~' || c is '/' or '\\' or '#' or '?')
            {
                throw new QueueException(QueueErrorCode.InvalidMessageId,
                    $"The message id has {Describe(c)}; only printable ASCII other than '/', '\\', '#' and '?' is allowed.");
            }
        }
    }

    /// <summary>Throws <see cref="QueueException"/> unless <paramref name="message"/> is valid for a body limit of <paramref name="maxBodyBytes"/>.</summary>
    /// <remarks>A <see langword="null"/> message id is allowed here: the caller generates one.</remarks>
    public static void ValidateMessage(OutgoingMessage? message, int maxBodyBytes)
    {
        if (message is null)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch, "A message must not be null.");
        }

        if (message.Body is null)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch, "A message body must not be null (use an empty array).");
        }

        if (message.Body.Length > maxBodyBytes)
        {
            throw new QueueException(QueueErrorCode.MessageTooLarge,
                $"The message body is {message.Body.Length} bytes; the queue accepts at most {maxBodyBytes}.");
        }

        if (message.MessageId is not null)
        {
            ValidateMessageId(message.MessageId);
        }

        if (message.ContentType is { } contentType)
        {
            if (contentType.Length > MaxContentTypeLength || contentType.Any(char.IsControl))
            {
                throw new QueueException(QueueErrorCode.InvalidContentType,
                    $"The content type must be at most {MaxContentTypeLength} characters without control characters.");
            }
        }

        if (message.TimeToLive is { } ttl)
        {
            ValidateTimeToLive(ttl, nameof(OutgoingMessage.TimeToLive));
        }

        ValidateText(message.CorrelationId, MaxCorrelationIdBytes, nameof(OutgoingMessage.CorrelationId));
        ValidateText(message.ReplyTo, MaxReplyToBytes, nameof(OutgoingMessage.ReplyTo));
        ValidateText(message.Subject, MaxSubjectBytes, nameof(OutgoingMessage.Subject));

        if (message.Headers is { } headers)
        {
            if (headers.Count > MaxHeaderCount)
            {
                throw new QueueException(QueueErrorCode.InvalidHeaders,
                    $"The message has {headers.Count} headers; at most {MaxHeaderCount} are allowed.");
            }

            long bytes = 0;
            foreach (var (key, value) in headers)
            {
                if (string.IsNullOrEmpty(key))
                {
                    throw new QueueException(QueueErrorCode.InvalidHeaders, "A header key must not be empty.");
                }

                if (value is null)
                {
                    throw new QueueException(QueueErrorCode.InvalidHeaders, $"The header '{key}' has a null value.");
                }

                if (key.Any(char.IsControl) || value.Any(char.IsControl))
                {
                    throw new QueueException(QueueErrorCode.InvalidHeaders, $"The header '{key}' has a control character.");
                }

                bytes += Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value);
                if (bytes > MaxHeadersBytes)
                {
                    throw new QueueException(QueueErrorCode.InvalidHeaders,
                        $"The headers are larger than {MaxHeadersBytes} bytes (UTF-8, keys and values together).");
                }
            }
        }
    }

    /// <summary>Throws <see cref="QueueException"/> unless the batch is non-empty and within the given bounds.</summary>
    public static void ValidateBatch(IReadOnlyList<OutgoingMessage>? messages, int maxBodyBytes, int maxCount, long maxTotalBodyBytes)
    {
        if (messages is null || messages.Count == 0)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch, "A batch must have at least one message.");
        }

        if (messages.Count > maxCount)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch,
                $"The batch has {messages.Count} messages; at most {maxCount} are allowed in one call.");
        }

        long total = 0;
        foreach (var message in messages)
        {
            ValidateMessage(message, maxBodyBytes);
            total += message.Body.Length;
        }

        if (total > maxTotalBodyBytes)
        {
            throw new QueueException(QueueErrorCode.InvalidBatch,
                $"The batch bodies add up to {total} bytes; at most {maxTotalBodyBytes} are allowed in one call.");
        }
    }

    /// <summary>
    /// Throws <see cref="QueueException"/> (<see cref="QueueErrorCode.InvalidArgument"/>) when a message of the batch is
    /// scheduled more than <see cref="MaxScheduleAhead"/> after <paramref name="now"/>.
    /// </summary>
    public static void ValidateSchedule(IReadOnlyList<OutgoingMessage> messages, DateTimeOffset now)
    {
        foreach (var message in messages)
        {
            if (message.ScheduledEnqueueTime is { } at && at - now > MaxScheduleAhead)
            {
                throw new QueueException(QueueErrorCode.InvalidArgument,
                    $"ScheduledEnqueueTime {at:O} is more than {MaxScheduleAhead.TotalDays:N0} days ahead of the silo's clock ({now:O}); nothing was stored.");
            }
        }
    }

    /// <summary>
    /// Throws <see cref="QueueException"/> (<see cref="QueueErrorCode.InvalidLockDuration"/>) unless
    /// <paramref name="lockDuration"/> is between 1 second and <paramref name="max"/>.
    /// </summary>
    public static void ValidateLockDuration(TimeSpan lockDuration, TimeSpan max)
    {
        if (lockDuration < MinLockDuration || lockDuration > max)
        {
            throw new QueueException(QueueErrorCode.InvalidLockDuration,
                $"The lock duration {lockDuration} is outside the allowed range {MinLockDuration} to {max}.");
        }
    }

    /// <summary>Throws <see cref="QueueException"/> (<see cref="QueueErrorCode.InvalidArgument"/>) unless <paramref name="count"/> is between 1 and <paramref name="max"/>.</summary>
    public static void ValidateCount(int count, int max, string what)
    {
        if (count < 1 || count > max)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument, $"{what} must be between 1 and {max}, not {count}.");
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>An optional text field of a message: at most <paramref name="maxBytes"/> UTF-8 bytes, no control characters.</summary>
    private static void ValidateText(string? value, int maxBytes, string field)
    {
        if (value is null)
        {
            return;
        }

        // Valid UTF-16 only: a lone surrogate has no UTF-8 encoding, so it could not come back as sent.
        int bytes;
        try
        {
            bytes = value.Length > maxBytes ? int.MaxValue : StrictUtf8.GetByteCount(value);
        }
        catch (EncoderFallbackException)
        {
            bytes = int.MaxValue;
        }

        if (bytes > maxBytes)
        {
            throw new QueueException(QueueErrorCode.InvalidArgument,
                $"The message's {field} must be at most {maxBytes} bytes of UTF-8 (valid Unicode); it has {value.Length} characters.");
        }

        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                throw new QueueException(QueueErrorCode.InvalidArgument, $"The message's {field} has {Describe(c)}; control characters are not allowed.");
            }
        }
    }

    private static string Describe(char c) =>
        char.IsControl(c) || char.IsWhiteSpace(c) ? $"the character U+{(int)c:X4}" : $"the character '{c}' (U+{(int)c:X4})";
}
