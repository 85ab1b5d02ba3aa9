using System.Runtime.CompilerServices;
using OrleansQueue.DeadLetters;
using OrleansQueue.Storage;

namespace OrleansQueue.Delivery;

/// <summary>The delivery window's side of moves to the dead-letter grain: starting them, deferring them, finishing them.</summary>
internal sealed partial class DeliveryWindow
{
    /// <summary>Ends the lock and starts the message's move to the dead-letter grain (null: deferred, see <see cref="PendingMoves"/>).</summary>
    public MoveRecord? DeadLetter(Guid token, DeadLetterReason reason, string? description, DateTimeOffset now, string? errorType = null, string? errorMessage = null)
    {
        if (!_locks.Remove(token, out var seq))
        {
            throw LockLost([token]);
        }

        _parked.Touch(seq);
        ref var entry = ref EntryRef(seq, out _);
        RecordError(ref entry, errorType, errorMessage);
        return BeginMove(seq, ref entry, reason, description, now);
    }

    /// <summary>The stored message of a pending move (in the window or parked).</summary>
    public StoredMessage MessageOf(MoveRecord move)
    {
        EntryRef(move.Seq, out var message);
        return message;
    }

    /// <summary>The dead-letter entry for a pending move.</summary>
    public DeadLetterEntry ToDeadLetterEntry(MoveRecord move, string queueName)
    {
        ref var entry = ref EntryRef(move.Seq, out var message);
        var (consumerReason, description) = DeadLetterNote.Decode(move.Description);
        return new DeadLetterEntry
        {
            Message = MessageViews.ToQueueMessage(message, entry.DeliveryCount),
            SourceQueue = queueName,
            Reason = move.Reason,
            ConsumerReason = consumerReason,
            Description = description,
            LastExceptionType = entry.ErrorType,
            LastExceptionMessage = entry.ErrorMessage,
            Attempts = entry.Attempts?.ToArray() ?? [],
            DeadLetteredAt = move.At,
        };
    }

    /// <summary>Records that the dead-letter grain stored the move's entry: the message leaves the queue.</summary>
    public void CompleteMove(long seq)
    {
        if (!_moves.TryRemove(seq, out _))
        {
            return;
        }

        // A deferred move takes the room at once, rather than when its deferral ends.
        while (_moves.HasCountRoom && _moves.TryPeekDeferred(out var waiting))
        {
            ref var deferred = ref TryEntryRef(waiting);
            var stillDeferred = !Unsafe.IsNullRef(ref deferred)
                && deferred is { State: DeliveryState.Ready, DeferredMove: not null } && deferred.NotBefore > default(DateTimeOffset);
            if (stillDeferred && !_moves.FitsBytes(deferred.DeferredDescription))
            {
                break; // it keeps its place until there is room for it
            }

            _moves.DequeueDeferred();
            if (stillDeferred && deferred.DeferredMove is { } reason)
            {
                _delayedCount--; // its entry in the delayed queue no longer matches and is skipped
                var decidedAt = deferred.NotBefore - PendingMoves.Deferral; // when it was to be dead-lettered
                deferred.NotBefore = default;
                _parked.Touch(waiting);
                BeginMove(waiting, ref deferred, reason, deferred.DeferredDescription, decidedAt);
            }
        }

        ref var entry = ref TryEntryRef(seq);
        if (!Unsafe.IsNullRef(ref entry) && entry.State == DeliveryState.Moving)
        {
            EntryRef(seq, out var message);
            MarkCompleted(seq, ref entry, message);
            TotalDeadLettered++;
        }

        AdvanceHead();
    }

    private MoveRecord? BeginMove(long seq, ref DeliveryEntry entry, DeadLetterReason reason, string? description, DateTimeOffset now)
    {
        entry.Token = Guid.Empty;
        if (description is { Length: > PendingMoves.MaxDescriptionLength })
        {
            description = description[..PendingMoves.MaxDescriptionLength];
        }

        description = _texts.Intern(description);

        if (!_moves.HasRoomFor(description))
        {
            // Waits its turn as a delayed message; its delivery record keeps the decision across a reload.
            entry.State = DeliveryState.Ready;
            if (entry.DeferredMove is null)
            {
                _moves.Defer(seq); // once: deferred again, it keeps its place
            }

            entry.DeferredMove = reason;
            entry.DeferredDescription = description;
            entry.NotBefore = now + PendingMoves.Deferral;
            MakeReady(seq, entry.NotBefore, now);
            return null;
        }

        EntryRef(seq, out var moving);
        LeavesLength(moving);
        entry.State = DeliveryState.Moving;
        entry.DeferredMove = null;
        entry.DeferredDescription = null;

        var move = new MoveRecord { Seq = seq, MoveId = RandomIds.NewGuid(), Reason = reason, Description = description, At = now };
        _moves.Add(move);
        return move;
    }
}
