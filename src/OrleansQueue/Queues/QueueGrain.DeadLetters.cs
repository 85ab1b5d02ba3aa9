using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansQueue.Appending;
using OrleansQueue.DeadLetters;
using OrleansQueue.Delivery;
using OrleansQueue.Diagnostics;
using OrleansQueue.Internal;
using OrleansQueue.Retention;
using OrleansQueue.Storage;

namespace OrleansQueue.Queues;

/// <summary>Dead-lettering by a receiver, and the moves to the dead-letter grain, in batches.</summary>
internal sealed partial class QueueGrain
{
    public async Task DeadLetter(Guid lockToken, string? reason, string? description)
    {
        var core = await GetCoreAsync();
        var now = _time.GetUtcNow();
        ExpireLeases(core, now);
        core.DeadLetter(lockToken, DeadLetterReason.RejectedByConsumer, DeadLetterNote.Encode(reason, description, PendingMoves.MaxDescriptionLength), now);
        PublishDepth(); // no longer leased; counted again once the move to the dead-letter grain is done
        await _metaPump!.CommitAsync();
        StartMoves();
    }


    // ------------------------------------------------------------------ moves to the dead-letter grain

    /// <summary>
    /// Finishes stored moves, in batches: the cursor record names a move before the dead-letter grain sees it; the
    /// dead-letter grain stores one entry per move id (a batch in as few segment writes as it fits in); then the
    /// messages are completed here. After any crash the moves are redone, so each message ends in exactly one of the
    /// queue and the dead-letter grain.
    /// </summary>
    private void StartMoves() => _moves.Start();

    private async Task RunMovesAsync(int generation)
    {
        Activity.Current = null; // each move's activity links to its message's send; none is the starting call's child
        var deadLetters = GrainFactory.GetGrain<IDeadLetterStore>(0);
        while (generation == _generation && _core is { PendingMoves.Count: > 0 } core)
        {
            // Taken before the commit, so each is stored (with the previous batch's completions) before it is sent.
            var moves = core.TakeMoveBatch(_options.MaxBatchCount, _options.MaxBatchBodyBytes);
            await _metaPump!.CommitAsync();
            if (generation != _generation)
            {
                return;
            }

            var activities = moves.Select(move =>
            {
                var moved = core.MessageOf(move);
                var activity = StartActivity("dead-letter", moved.Id, moved.TraceParent);
                activity?.SetTag("message.seq", move.Seq);
                activity?.SetTag("reason", move.Reason.ToString());
                Activity.Current = null; // siblings, not each other's children
                return activity;
            }).ToList();
            long[] entryIds;
            try
            {
                entryIds = await deadLetters.AddBatch(moves.Select(m => new DeadLetterMove(m.MoveId, core.ToDeadLetterEntry(m, QueueName))).ToArray());
            }
            finally
            {
                activities.ForEach(a => a?.Dispose());
            }

            if (generation != _generation)
            {
                return;
            }

            for (var i = 0; i < moves.Count; i++)
            {
                core.CompleteMove(moves[i].Seq);
                LogDeadLettered(QueueName, moves[i].Seq, entryIds[i], moves[i].Reason);
            }

            RecordDeadLettered(moves.Count); // once a batch: publishing the depth counts the window
            OnMessagesReady(); // the head may have moved: the window can take more messages
        }

        await _metaPump!.CommitAsync();
    }

    /// <summary>Stored moves are retried by the timer (and after reactivation); nothing is lost meanwhile.</summary>
    private void MoveFailed(Exception exception)
    {
        LogMoveFailed(exception, QueueName);
        RecordError("move");
    }
}
