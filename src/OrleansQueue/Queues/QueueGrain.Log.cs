using Microsoft.Extensions.Logging;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

internal sealed partial class QueueGrain
{
    [LoggerMessage((int)LogEvent.QueueEnqueued, LogLevel.Debug, "Queue {Queue}: stored {Messages} message(s) from {Calls} call(s) in {Segments} segment write(s)")]
    private partial void LogEnqueued(string queue, int messages, int calls, int segments);

    [LoggerMessage((int)LogEvent.QueueLoaded, LogLevel.Information, "Queue {Queue}: loaded, head segment {Head}, tail segment {Tail}, {Active} message(s), {Leased} open lease(s)")]
    private partial void LogLoaded(string queue, long head, long tail, long active, int leased);

    [LoggerMessage((int)LogEvent.QueueStorageFailed, LogLevel.Warning, "Queue {Queue}: a storage write failed (ETag conflict: {Conflict}); dropping in-memory state to reload from storage")]
    private partial void LogStorageFailure(Exception exception, string queue, bool conflict);

    [LoggerMessage((int)LogEvent.QueueLocksExpired, LogLevel.Debug, "Queue {Queue}: {Count} lease(s) expired; the messages are ready again")]
    private partial void LogLeasesExpired(string queue, int count);

    [LoggerMessage((int)LogEvent.QueueOverflowed, LogLevel.Debug, "Queue {Queue}: at its maximum length, {Count} oldest message(s) {Action} to make room")]
    private partial void LogOverflow(string queue, long count, string action);

    [LoggerMessage((int)LogEvent.QueuePurged, LogLevel.Information, "Queue {Queue}: purged {Count} message(s)")]
    private partial void LogPurged(string queue, long count);

    [LoggerMessage((int)LogEvent.QueueSegmentsDeleted, LogLevel.Debug, "Queue {Queue}: deleted {Count} completed segment(s)")]
    private partial void LogSegmentsDeleted(string queue, int count);

    [LoggerMessage((int)LogEvent.QueueCleanupFailed, LogLevel.Warning, "Queue {Queue}: deleting completed segments failed; the next pass tries again")]
    private partial void LogCleanupFailed(Exception exception, string queue);

    [LoggerMessage((int)LogEvent.QueueDeactivationCommitFailed, LogLevel.Information, "Queue {Queue}: storing the cursor record on deactivation failed; completions not yet stored are delivered again")]
    private partial void LogDeactivationCommitFailed(Exception exception, string queue);

    [LoggerMessage((int)LogEvent.WindowParked, LogLevel.Debug, "Queue {Queue}: the delivery window moved past segment {Segment}, whose messages in flight are parked ({Parked} parked in all)")]
    private partial void LogParked(string queue, long segment, int parked);

    [LoggerMessage((int)LogEvent.WindowParkedForCursor, LogLevel.Information, "Queue {Queue}: the cursor record reached its size budget; {Segments} head segment(s) parked ({Parked} messages parked in all)")]
    private partial void LogParkedForCursor(string queue, int segments, int parked);

    [LoggerMessage((int)LogEvent.ConsumerSubscribed, LogLevel.Information, "Queue {Queue}: consumer {Consumer} subscribed (prefetch {Prefetch}, auto-complete {AutoComplete})")]
    private partial void LogSubscribed(string queue, string consumer, int prefetch, bool autoComplete);

    [LoggerMessage((int)LogEvent.SubscriptionLapsed, LogLevel.Information, "Queue {Queue}: the subscription of {Consumer} lapsed or its client is gone")]
    private partial void LogSubscriptionLapsed(string queue, string consumer);

    [LoggerMessage((int)LogEvent.DispatchFailed, LogLevel.Warning, "Queue {Queue}: pushing to consumers failed")]
    private partial void LogDispatchFailed(Exception exception, string queue);

    [LoggerMessage((int)LogEvent.PushSettleFailed, LogLevel.Warning, "Queue {Queue}: settling the push of message {Seq} failed")]
    private partial void LogSettleFailed(Exception exception, string queue, long seq);

    [LoggerMessage((int)LogEvent.PushTimedOut, LogLevel.Warning, "Queue {Queue}: the push of message {Seq} timed out; its lease stays until it expires")]
    private partial void LogPushTimedOut(string queue, long seq);

    [LoggerMessage((int)LogEvent.ReceiveReleased, LogLevel.Debug, "Queue {Queue}: released {Count} message(s) locked by a cancelled receive")]
    private partial void LogReceiveReleased(string queue, int count);

    [LoggerMessage((int)LogEvent.HandlerTimedOut, LogLevel.Warning, "Queue {Queue}: a call to consumer {Consumer} with {Count} message(s) from sequence number {Seq} ran past MaxAutoLockRenewalDuration ({Max}); its deliveries failed and go out again, and the consumer gets nothing new until the call returns")]
    private partial void LogHandlerTimedOut(string queue, string consumer, long seq, int count, TimeSpan max);

    [LoggerMessage((int)LogEvent.LateResultIgnored, LogLevel.Information, "Queue {Queue}: a call with {Count} message(s) from sequence number {Seq} returned after {Elapsed}, past its MaxAutoLockRenewalDuration; its result is ignored")]
    private partial void LogLateResultIgnored(string queue, long seq, int count, TimeSpan elapsed);

    [LoggerMessage((int)LogEvent.MessageDeadLettered, LogLevel.Information, "Queue {Queue}: message {Seq} moved to the dead-letter grain as entry {EntryId} ({Reason})")]
    private partial void LogDeadLettered(string queue, long seq, long entryId, DeadLetterReason reason);

    [LoggerMessage((int)LogEvent.DeadLetterMoveFailed, LogLevel.Warning, "Queue {Queue}: moving messages to the dead-letter grain failed; the move is stored and is retried")]
    private partial void LogMoveFailed(Exception exception, string queue);

    [LoggerMessage((int)LogEvent.ClientConsumerUnavailable, LogLevel.Information, "Queue {Queue}: client consumer {Consumer} is not connected; pushes to it pause for {Pause}")]
    private partial void LogClientUnavailable(string queue, string consumer, TimeSpan pause);

    [LoggerMessage((int)LogEvent.ReminderUnavailable, LogLevel.Warning, "Queue {Queue}: registering the reminder that wakes this queue after a silo crash failed (is a reminder service configured: UseInMemoryReminderService, UseAzureTableReminderService?); tried again in a minute")]
    private partial void LogReminderUnavailable(Exception exception, string queue);
}
