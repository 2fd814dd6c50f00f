using System;
using System.IO;
using System.Security.Cryptography;

namespace PgBackup
{
    /// <summary>The boilerplate of a forward-only read stage: reading is all it does.</summary>
    public abstract class ReadOnlyStream : Stream
    {
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

    /// <summary>A read stage that also writes every chunk it reads to another stream (a copy made while the data is checked).</summary>
    public sealed class TeeReadStream : ReadOnlyStream
    {
        private readonly Stream _inner;
        private readonly Stream _copy;

        public TeeReadStream(Stream inner, Stream copy)
        {
            _inner = inner;
            _copy = copy;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = _inner.Read(buffer, offset, count);
            if (n > 0) _copy.Write(buffer, offset, n);
            return n;
        }

        /// <summary>Reads (and copies) whatever is left.</summary>
        public void ReadToEnd()
        {
            var buffer = new byte[1 << 16];
            while (Read(buffer, 0, buffer.Length) > 0) { }
        }
    }

    /// <summary>A read stage that hashes (SHA-256) and counts every byte read through it.</summary>
    public sealed class HashingReadStream : ReadOnlyStream
    {
        private readonly Stream _inner;
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly Action<long>? _onProgress;
        private string? _result;

        public HashingReadStream(Stream inner, Action<long>? onProgress = null)
        {
            _inner = inner;
            _onProgress = onProgress;
        }

        public long BytesRead { get; private set; }

        /// <summary>The hex SHA-256 of everything read; call after the end was reached.</summary>
        public string HashHex => _result ??= HashingStream.Hex(_hash.GetHashAndReset());

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = _inner.Read(buffer, offset, count);
            if (n > 0)
            {
                _hash.AppendData(buffer, offset, n);
                BytesRead += n;
                _onProgress?.Invoke(BytesRead);
            }
            return n;
        }

        /// <summary>Reads whatever is left, so that the hash covers the whole stream.</summary>
        public void ReadToEnd()
        {
            var buffer = new byte[1 << 16];
            while (Read(buffer, 0, buffer.Length) > 0) { }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
