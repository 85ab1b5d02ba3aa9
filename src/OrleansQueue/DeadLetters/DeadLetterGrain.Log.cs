using Microsoft.Extensions.Logging;
using OrleansQueue.Diagnostics;

namespace OrleansQueue.DeadLetters;

internal sealed partial class DeadLetterGrain
{
    [LoggerMessage((int)LogEvent.DeadLettersAdded, LogLevel.Information, "Dead-letter entries {First} to {Last}: {Count} message(s) stored")]
    private partial void LogAdded(int count, long first, long last);

    [LoggerMessage((int)LogEvent.DeadLettersRedriven, LogLevel.Information, "Redrove {Count} dead-letter entries to queue {Queue}")]
    private partial void LogRedriven(int count, string queue);

    [LoggerMessage((int)LogEvent.DeadLetterStorageFailed, LogLevel.Warning, "The dead-letter grain failed {What}; it reads its state from storage again on the next call")]
    private partial void LogStorageFailed(Exception exception, string what);
}
