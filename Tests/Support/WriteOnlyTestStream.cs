namespace LstmStream.Tests.Support;

/// <summary>A forward-only writable stream for tests: subclasses say only how <see cref="Write(byte[], int, int)"/> takes bytes.</summary>
internal abstract class WriteOnlyTestStream : Stream
{
    public abstract override void Write(byte[] buffer, int offset, int count);

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
