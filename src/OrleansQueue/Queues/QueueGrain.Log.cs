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
}
