using OrleansQueue.DeadLetters;
using Xunit;

namespace OrleansQueue.Tests.Unit;

public class DeadLetterNoteTests
{
    [Theory]
    [InlineData(null, null)]
    [InlineData(null, "only a description")]
    [InlineData("InvalidOrder", null)]
    [InlineData("InvalidOrder", "field 'sku' is missing")]
    public void ReasonAndDescriptionReadBackAsWritten(string? reason, string? description)
    {
        var stored = DeadLetterNote.Encode(reason, description, 512);
        Assert.Equal((reason, description), DeadLetterNote.Decode(stored));
    }

    [Fact]
    public void TextStoredBeforeReasonsExistedIsADescription() =>
        Assert.Equal((null, "rejected m-1"), DeadLetterNote.Decode("rejected m-1"));

    [Fact]
    public void LongTextIsCutToFitNotRejected()
    {
        var stored = DeadLetterNote.Encode(new string('r', 300), new string('d', 1000), 512);
        Assert.True(stored!.Length <= 512);
        var (reason, description) = DeadLetterNote.Decode(stored);
        Assert.Equal(DeadLetterNote.MaxReasonLength, reason!.Length);
        Assert.Equal(512 - DeadLetterNote.MaxReasonLength - 2, description!.Length);
    }

    [Fact]
    public void TheSeparatorInUserTextCannotForgeAReason()
    {
        var stored = DeadLetterNote.Encode(null, "\u001Fforged\u001Fdescription", 512);
        Assert.Equal((null, " forged description"), DeadLetterNote.Decode(stored));
    }
}
