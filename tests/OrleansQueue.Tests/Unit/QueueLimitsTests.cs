namespace OrleansQueue.Tests.Unit;

public sealed class QueueLimitsTests
{
    [Theory]
    [InlineData("orders")]
    [InlineData("Orders.EU-west_2")]
    [InlineData("0")]
    public void ValidQueueNames_Pass(string name) => QueueLimits.ValidateQueueName(name);

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a#b")]
    [InlineData("a?b")]
    [InlineData("a\tb")]
    [InlineData("a\u0000b")]
    [InlineData("-leading")]
    [InlineData(".hidden")]
    [InlineData("with space")]
    [InlineData("ünïcode")]
    [InlineData("emoji😀")]
    public void InvalidQueueNames_Fail(string name) =>
        Assert.Equal(QueueErrorCode.InvalidQueueName, Assert.Throws<QueueException>(() => QueueLimits.ValidateQueueName(name)).Code);

    [Fact]
    public void QueueNames_AreLimitedTo120Characters()
    {
        QueueLimits.ValidateQueueName(new string('a', 120));
        Assert.Throws<QueueException>(() => QueueLimits.ValidateQueueName(new string('a', 121)));
        Assert.Throws<QueueException>(() => QueueLimits.ValidateQueueName(null));
    }

    [Fact]
    public void GeneratedHostileNamesAndIds_AreAllRejected()
    {
        var random = new Random(42);
        char[] hostile = ['/', '\\', '#', '?', '\u0000', '\u001f', '\u007f', '\u0085', '\u200b', 'é', '\ud83d', '\n'];
        for (var i = 0; i < 1000; i++)
        {
            var length = random.Next(1, 200);
            var chars = Enumerable.Range(0, length).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray();
            chars[random.Next(length)] = hostile[random.Next(hostile.Length)];
            var value = new string(chars);
            Assert.Throws<QueueException>(() => QueueLimits.ValidateQueueName(value));
            Assert.Throws<QueueException>(() => QueueLimits.ValidateMessageId(value));
        }
    }

    [Theory]
    [InlineData("order-17")]
    [InlineData("urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301")]
    [InlineData("a b~!@$%^&*()")]
    public void ValidMessageIds_Pass(string id) => QueueLimits.ValidateMessageId(id);

    [Fact]
    public void MessageIds_AreLimitedTo128Characters()
    {
        QueueLimits.ValidateMessageId(new string('x', 128));
        Assert.Equal(QueueErrorCode.InvalidMessageId, Assert.Throws<QueueException>(() => QueueLimits.ValidateMessageId(new string('x', 129))).Code);
    }

    [Fact]
    public void Bodies_AreCheckedAgainstTheLimit_ExactlyAtTheBoundary()
    {
        QueueLimits.ValidateMessage(new OutgoingMessage(new byte[1000]), 1000);
        var error = Assert.Throws<QueueException>(() => QueueLimits.ValidateMessage(new OutgoingMessage(new byte[1001]), 1000));
        Assert.Equal(QueueErrorCode.MessageTooLarge, error.Code);
    }

    [Fact]
    public void Headers_AreBoundedInSizeAndCount_AndHaveNoControlCharacters()
    {
        OutgoingMessage With(Dictionary<string, string> headers) => new(new byte[1]) { Headers = headers };
        QueueLimits.ValidateMessage(With(new() { ["k"] = new string('v', 64 * 1024 - 1) }), 10);
        QueueErrorCode Code(Dictionary<string, string> headers) =>
            Assert.Throws<QueueException>(() => QueueLimits.ValidateMessage(With(headers), 10)).Code;
        Assert.Equal(QueueErrorCode.InvalidHeaders, Code(new() { ["k"] = new string('v', 64 * 1024) }));
        Assert.Equal(QueueErrorCode.InvalidHeaders, Code(new() { [""] = "v" }));
        Assert.Equal(QueueErrorCode.InvalidHeaders, Code(new() { ["k"] = "line\nbreak" }));
        Assert.Equal(QueueErrorCode.InvalidHeaders, Code(Enumerable.Range(0, 129).ToDictionary(i => $"h{i}", _ => "v")));
    }

    [Fact]
    public void Leases_AreBetweenOneSecondAndTheMaximum()
    {
        QueueLimits.ValidateLockDuration(TimeSpan.FromSeconds(1), TimeSpan.FromHours(12));
        QueueLimits.ValidateLockDuration(TimeSpan.FromHours(12), TimeSpan.FromHours(12));
        Assert.Throws<QueueException>(() => QueueLimits.ValidateLockDuration(TimeSpan.FromMilliseconds(999), TimeSpan.FromHours(12)));
        Assert.Throws<QueueException>(() => QueueLimits.ValidateLockDuration(TimeSpan.FromSeconds(-1), TimeSpan.FromHours(12)));
        Assert.Throws<QueueException>(() => QueueLimits.ValidateLockDuration(TimeSpan.FromMinutes(6), TimeSpan.FromMinutes(5)));
    }
}
