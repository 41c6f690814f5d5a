namespace HierDiff.Pipeline.Tests;

public sealed class InProcessRunContextTests
{
    [Fact]
    public async Task AnActivityRegisteredOneAtATimeNeverRunsTwiceAtOnce()
    {
        int running = 0, most = 0;
        var context = new InProcessRunContext().Register<EncodeInput, EncodedChunk>("probe", async input =>
        {
            most = Math.Max(most, Interlocked.Increment(ref running));
            await Task.Delay(20);
            Interlocked.Decrement(ref running);
            return new EncodedChunk(input.Chunk, 0);
        }, oneAtATime: true);

        EncodedChunk[] done = await Task.WhenAll(Enumerable.Range(0, 6).Select(c => context.CallActivityAsync<EncodedChunk>("probe", new EncodeInput("r", c))));
        Assert.Equal(Enumerable.Range(0, 6), done.Select(d => d.Chunk));
        Assert.Equal(1, most);
    }
}
