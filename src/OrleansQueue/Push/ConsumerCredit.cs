namespace OrleansQueue.Push;

/// <summary>
/// Competing consumers: which consumer gets each message locked for pushing. Round-robin over the consumers with
/// credit (prefetch not yet taken), one message at a time, so messages spread by each consumer's available credit.
/// </summary>
internal sealed class ConsumerCredit
{
    private int _next;

    /// <summary>
    /// Picks a consumer with credit for each of up to <paramref name="count"/> messages and takes that credit; fewer are
    /// returned when the credit runs out.
    /// </summary>
    public List<ConsumerState> Take(IEnumerable<ConsumerState> subscribed, int count)
    {
        var consumers = subscribed.ToList();
        var chosen = new List<ConsumerState>(count);
        while (chosen.Count < count)
        {
            ConsumerState? next = null;
            for (var i = 0; i < consumers.Count && next is null; i++)
            {
                var candidate = consumers[(_next + i) % consumers.Count];
                if (candidate.HasCredit)
                {
                    next = candidate;
                }
            }

            if (next is null)
            {
                break;
            }

            _next = (_next + 1) % consumers.Count;
            next.Reserved++;
            chosen.Add(next);
        }

        return chosen;
    }

    /// <summary>Gives back the credit taken for the consumers from index <paramref name="used"/> on, and drops them from the list.</summary>
    public static void Return(List<ConsumerState> consumers, int used)
    {
        if (used >= consumers.Count)
        {
            return;
        }

        for (var i = used; i < consumers.Count; i++)
        {
            consumers[i].Reserved--;
        }

        consumers.RemoveRange(used, consumers.Count - used);
    }
}
