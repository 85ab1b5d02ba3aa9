namespace OrleansQueue.Diagnostics;

/// <summary>
/// The event id of every log message OrleansQueue's silo library writes, in one place (as
/// <c>Orleans.Reminders.RSErrorCode</c> does for reminders). The numbers are part of the operations contract
/// (log queries and alerts filter on them): never renumber one, and never reuse a retired one.
/// </summary>
internal enum LogEvent
{
    // ---- the queue grain: storage and state
    QueueEnqueued = 1,
    QueueLoaded = 2,
    QueueStorageFailed = 3,
    QueueLocksExpired = 4,
    QueuePurged = 5,
    QueueSegmentsDeleted = 6,
    QueueCleanupFailed = 7,
    QueueDeactivationCommitFailed = 8,

    // ---- the queue grain: push consumers and dead-letter moves
    ConsumerSubscribed = 10,
    SubscriptionLapsed = 11,
    DispatchFailed = 12,
    PushSettleFailed = 13,
    PushTimedOut = 14,
    MessageDeadLettered = 15,
    DeadLetterMoveFailed = 16,
    ReminderUnavailable = 17,
    WindowParked = 18,
    HandlerTimedOut = 19,

    // ---- the dead-letter grain
    DeadLettersAdded = 20,
    DeadLettersRedriven = 21,

    // ---- the queue grain, continued
    LateResultIgnored = 22,
    ReceiveReleased = 23,
    WindowParkedForCursor = 24,
    RegistryListingFailed = 25,
    ClientConsumerUnavailable = 26,

    // ---- hosting
    ConfiguredSubscription = 30,

    // ---- the dead-letter grain, continued
    DeadLetterStorageFailed = 40,

    // ---- waking queues with push subscribers, and the queue registry
    QueuesWoken = 42,
    WakeShardFailed = 43,
    WakeQueueFailed = 44,
    WakerStopped = 45,
    RegistryListed = 46,
    RegistryStorageFailed = 47,
    WakeGaveUp = 48,

    // ---- the queue grain: queue management
    QueueDeleted = 49,
    QueueDeleteFailed = 50,
    QueueDeletionResumed = 51,
    QueueOverflowed = 52,
    MessagesScheduled = 53,
    ScheduledMessagesDue = 54,
    ScheduledMessageCancelled = 55,
    ScheduleMoveFailed = 56,
    ScheduleMoveResumed = 57,
    ScheduleStorageFailed = 58,
    MessagesExpired = 59,
    ExpirySweepFailed = 62, // 60 and 61 are OrleansQueue.PostgreSql's, below
    QueueCreated = 63,

    // OrleansQueue.PostgreSql: PostgreSqlGrainStorage.
    PostgreSqlConflict = 60,
    PostgreSqlConnectionLost = 61,
}
