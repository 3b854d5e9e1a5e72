namespace LstmStream.Tests.Records;

/// <summary>A forward-only readable stream for tests: subclasses say only how <see cref="Read"/> serves bytes.</summary>
internal abstract class ReadOnlyTestStream : Stream
{
    public abstract override int Read(byte[] buffer, int offset, int count);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
