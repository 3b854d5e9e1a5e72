using LstmStream.Pipeline.Records;

namespace LstmStream.Tests.Records;

public sealed class LoggedTextTests
{
    [Theory]
    [InlineData("sensor-7")]
    [InlineData("température/étage-2")]
    [InlineData("emoji 🌡 key")]
    public void Plain_text_is_logged_as_it_is_without_a_copy(string text)
    {
        Assert.Same(text, LoggedText.Of(text));
    }

    [Theory]
    [InlineData("a\rb", "a\\x0db")]
    [InlineData("a\nfake log line", "a\\x0afake log line")]
    [InlineData("\u001b[2J\u001b[Hcleared", "\\x1b[2J\\x1b[Hcleared")]
    [InlineData("del\u007f c1\u0085", "del\\x7f c1\\x85")]
    [InlineData("back\\slash", "back\\\\slash")]
    [InlineData("line\u2028sep", "line\\u2028sep")]
    [InlineData("bidi\u202eevil", "bidi\\u202eevil")]
    public void Control_and_deceptive_characters_are_escaped(string text, string logged)
    {
        Assert.Equal(logged, LoggedText.Of(text));
    }

    [Fact]
    public void Lone_surrogates_are_escaped()
    {
        Assert.Equal("lone\\ud800 and \\udc00", LoggedText.Of("lone" + (char)0xd800 + " and " + (char)0xdc00));
    }

    [Fact]
    public void Long_text_is_cut_with_its_length_noted()
    {
        var key = new string('k', 1 << 20);

        Assert.Equal(new string('k', 80) + "…(1048576 chars)", LoggedText.Of(key));
        Assert.Equal("kkkkk…(1048576 chars)", LoggedText.Of(key, 5));
    }

    [Fact]
    public void An_escape_is_never_cut_in_half()
    {
        // "ab" then ESC: "ab\x1b" is 6 characters; with room for 4, the escape does not fit and is left out whole.
        Assert.Equal("ab…(3 chars)", LoggedText.Of("ab\u001b", 4));
        Assert.Equal("a🌡…(5 chars)", LoggedText.Of("a🌡🌡", 4));
    }
}
