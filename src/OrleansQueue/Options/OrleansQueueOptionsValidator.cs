using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Storage;

namespace OrleansQueue.Options;

/// <summary>Checks <see cref="OrleansQueueOptions"/> at silo start-up; a bad value stops the silo with a message naming the option.</summary>
internal sealed class OrleansQueueOptionsValidator(IOptions<OrleansQueueOptions> options, IServiceProvider services) : IConfigurationValidator
{
    /// <summary>Largest segment that fits one Azure Table entity (15 properties of 64 KiB, less room for keys).</summary>
    internal const int SegmentBytesCeiling = 900 * 1024;

    public void ValidateConfiguration()
    {
        var o = options.Value;
        Validate(o);
        if (services.GetKeyedService<IGrainStorage>(o.StorageName) is null)
        {
            throw Fail(nameof(o.StorageName),
                $"no grain storage provider named '{o.StorageName}' is registered; add one (for example AddOrleansQueueAzureTableStorage(\"{o.StorageName}\", ...) from OrleansQueue.AzureStorage) or set {nameof(o.StorageName)}");
        }
    }

    /// <summary>
    /// Most messages in the delivery window (ActiveSegments × SegmentMaxMessages): its completions and delivery state
    /// live in the cursor record, which must stay one small storage record (a queue also parks window heads when that
    /// state nears the record's budget).
    /// </summary>
    internal const long MaxWindowMessages = 16_384;

    /// <summary>Most messages per segment (see <see cref="OrleansQueueOptions.SegmentMaxMessages"/>).</summary>
    internal const int MaxSegmentMessages = 1024;

    /// <summary>Checks the values alone, without the service provider.</summary>
    internal static void Validate(OrleansQueueOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.StorageName))
        {
            throw Fail(nameof(o.StorageName), "must name a grain storage provider");
        }

        Range(nameof(o.SegmentMaxMessages), o.SegmentMaxMessages, 1, MaxSegmentMessages,
            "the newest segment, up to twice this many messages, cannot be parked: the delivery state of all of them locked must fit the cursor record");
        Range(nameof(o.SegmentChunkMessages), o.SegmentChunkMessages, 1, 10_000);
        Range(nameof(o.MaxMessageBodyBytes), o.MaxMessageBodyBytes, 1, QueueLimits.DefaultMaxMessageBodyBytes);
        var smallest = SegmentSizing.MaxEstimatedMessageBytes(o.MaxMessageBodyBytes);
        Range(nameof(o.SegmentMaxBytes), o.SegmentMaxBytes, smallest, SegmentBytesCeiling,
            $"at least one largest message ({smallest} bytes estimated for a {o.MaxMessageBodyBytes}-byte body) and at most one Azure Table entity");
        Range(nameof(o.ActiveSegments), o.ActiveSegments, 1, 1024);
        Range(nameof(o.DeliveryWindowMaxBytes), o.DeliveryWindowMaxBytes, 0, 16L * 1024 * 1024 * 1024);
        Range($"{nameof(o.ActiveSegments)} × {nameof(o.SegmentMaxMessages)}", (long)o.ActiveSegments * o.SegmentMaxMessages, 1, MaxWindowMessages,
            "the delivery window's messages, whose completions and delivery state the cursor record holds");
        Range(nameof(o.MaxMessagesInFlight), o.MaxMessagesInFlight, 1, 1_000_000);
        Range(nameof(o.MaxBatchCount), o.MaxBatchCount, 1, 10_000);
        Range(nameof(o.MaxBatchBodyBytes), o.MaxBatchBodyBytes, o.MaxMessageBodyBytes, 64L * 1024 * 1024);
        Range(nameof(o.GroupCommitMaxMessages), o.GroupCommitMaxMessages, 1, 10_000);
        Range(nameof(o.MaxStagedBytes), o.MaxStagedBytes, o.MaxBatchBodyBytes, 1024L * 1024 * 1024);
        Range(nameof(o.CursorWriteDelay), o.CursorWriteDelay, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Range(nameof(o.MaxLockDuration), o.MaxLockDuration, QueueLimits.MinLockDuration, QueueLimits.MaxLockDuration);
        Range(nameof(o.DefaultLockDuration), o.DefaultLockDuration, QueueLimits.MinLockDuration, o.MaxLockDuration);
        Range(nameof(o.MaxDeliveryCount), o.MaxDeliveryCount, 1, 1000);
        Range(nameof(o.MaxQueueLength), o.MaxQueueLength, 1, 1_000_000_000);
        Range(nameof(o.DuplicateDetectionWindow), o.DuplicateDetectionWindow, TimeSpan.Zero, TimeSpan.FromDays(7));
        Range(nameof(o.DuplicateDetectionMaxIds), o.DuplicateDetectionMaxIds, 1, 10_000_000);
        var deadLetters = o.DeadLetters ?? throw Fail(nameof(o.DeadLetters), "must be set");
        Range($"{nameof(o.DeadLetters)}.{nameof(deadLetters.SegmentMaxEntries)}", deadLetters.SegmentMaxEntries, 1, 10_000);
        Range($"{nameof(o.DeadLetters)}.{nameof(deadLetters.SegmentMaxBytes)}", deadLetters.SegmentMaxBytes, 16 * 1024, SegmentBytesCeiling,
            "at most one Azure Table entity");
        Range($"{nameof(o.DeadLetters)}.{nameof(deadLetters.MaxSegmentsPerCall)}", deadLetters.MaxSegmentsPerCall, 1, 10_000);
        for (var i = 0; i < o.Subscriptions.Count; i++)
        {
            var subscription = o.Subscriptions[i];
            var name = $"{nameof(o.Subscriptions)}[{i}]";
            try
            {
                QueueLimits.ValidateQueueName(subscription.Queue);
            }
            catch (QueueException e)
            {
                throw Fail(name, $"has an invalid queue: {e.Message}");
            }

            if (!GrainId.TryParse(subscription.Consumer, out var consumer) || consumer.IsDefault || consumer.Key.AsSpan().IsEmpty)
            {
                throw Fail(name, $"has consumer '{subscription.Consumer}', which is not a grain id of the form type/key");
            }

            Range($"{name}.{nameof(subscription.Prefetch)}", subscription.Prefetch, 1, 1000);
            Range($"{name}.{nameof(subscription.MaxConcurrentCalls)}", subscription.MaxConcurrentCalls, 1, 1000);
            Range($"{name}.{nameof(subscription.MaxAutoLockRenewalDuration)}", subscription.MaxAutoLockRenewalDuration,
                QueueLimits.MinLockDuration, QueueLimits.MaxLockDuration);
        }
    }

    private static void Range<T>(string name, T value, T min, T max, string? why = null) where T : IComparable<T>
    {
        if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
        {
            throw Fail(name, $"is {value}; it must be between {min} and {max}{(why is null ? "" : $" ({why})")}");
        }
    }

    private static OrleansConfigurationException Fail(string option, string problem) =>
        new($"{nameof(OrleansQueueOptions)}.{option} {problem}.");
}
