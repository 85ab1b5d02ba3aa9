using System.Collections.Concurrent;

namespace OrleansQueue.Tests.Infrastructure;

public enum SendOutcome
{
    Ok,
    Failed,
    Unknown,
}

/// <summary>
/// Records every send (with its outcome), delivery and completion of a run, then classifies them the way Jepsen checks
/// a queue: lost (confirmed, never delivered), unexpected (delivered, never sent), duplicated (one message id stored
/// under two sequence numbers, or completed twice), redelivered (delivered more than once, each time after a
/// settlement that did not land or a lease that ended), and order inversions among first deliveries.
/// </summary>
public sealed class History
{
    private readonly ConcurrentDictionary<string, SendOutcome> _sends = new();
    private readonly ConcurrentQueue<QueueMessage> _deliveries = new();
    private readonly ConcurrentDictionary<string, int> _completions = new();

    public void Sent(string messageId, SendOutcome outcome) => _sends[messageId] = outcome;

    public void Delivered(QueueMessage message) => _deliveries.Enqueue(message);

    public void Completed(string messageId) => _completions.AddOrUpdate(messageId, 1, (_, n) => n + 1);

    public IReadOnlyCollection<string> Confirmed => _sends.Where(s => s.Value == SendOutcome.Ok).Select(s => s.Key).ToList();

    /// <summary>Sends that failed or whose outcome is unknown.</summary>
    public IReadOnlyCollection<string> Unconfirmed => _sends.Where(s => s.Value != SendOutcome.Ok).Select(s => s.Key).ToList();

    public HistoryReport Check()
    {
        var deliveries = _deliveries.ToList();
        var delivered = deliveries.GroupBy(d => d.MessageId).ToDictionary(g => g.Key, g => g.ToList());
        var firstSeqs = deliveries.Where(d => d.DeliveryCount == 1).Select(d => d.SequenceNumber).ToList();
        var inversions = 0;
        for (var i = 1; i < firstSeqs.Count; i++)
        {
            if (firstSeqs[i] < firstSeqs[i - 1])
            {
                inversions++;
            }
        }

        return new HistoryReport(
            Sent: _sends.Count,
            Confirmed: _sends.Count(s => s.Value == SendOutcome.Ok),
            FailedSends: _sends.Count(s => s.Value != SendOutcome.Ok),
            FailedSendsPresent: _sends.Count(s => s.Value != SendOutcome.Ok && delivered.ContainsKey(s.Key)),
            Delivered: delivered.Count,
            Lost: _sends.Count(s => s.Value == SendOutcome.Ok && !delivered.ContainsKey(s.Key)),
            Unexpected: delivered.Keys.Count(id => !_sends.ContainsKey(id)),
            DuplicatedEnqueues: delivered.Values.Count(d => d.Select(m => m.SequenceNumber).Distinct().Count() > 1),
            DuplicatedCompletions: _completions.Values.Count(n => n > 1),
            Redelivered: delivered.Values.Count(d => d.Count > 1),
            OrderInversions: inversions);
    }
}

public sealed record HistoryReport(
    int Sent, int Confirmed, int FailedSends, int FailedSendsPresent, int Delivered, int Lost, int Unexpected,
    int DuplicatedEnqueues, int DuplicatedCompletions, int Redelivered, int OrderInversions);
