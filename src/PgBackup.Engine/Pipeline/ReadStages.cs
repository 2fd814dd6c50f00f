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

        /// <summary>Reads whatever is left (so that a stage that observes its bytes sees them all).</summary>
        public void ReadToEnd()
        {
            var buffer = new byte[1 << 16];
            while (Read(buffer, 0, buffer.Length) > 0) { }
        }

        /// <summary>Reads until <paramref name="count"/> bytes arrived or the stream ended; returns how many arrived.</summary>
        public static int ReadFully(Stream stream, byte[] buffer, int offset, int count)
        {
            int total = 0;
            while (total < count)
            {
                int n = stream.Read(buffer, offset + total, count - total);
                if (n == 0) break;
                total += n;
            }
            return total;
        }

        /// <summary>All of <paramref name="stream"/>, or null when it holds more than <paramref name="limit"/> bytes (which are then not read).</summary>
        public static byte[]? ReadAtMost(Stream stream, int limit)
        {
            using var ms = new MemoryStream();
            var buffer = new byte[1 << 16];
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (ms.Length + n > limit) return null;
                ms.Write(buffer, 0, n);
            }
            return ms.ToArray();
        }
    }

    /// <summary>A read stream that first returns bytes already read (a sniffed header), then the rest of its inner stream.</summary>
    internal sealed class PrefixedStream : ReadOnlyStream
    {
        private readonly byte[] _prefix;
        private readonly int _count;
        private readonly Stream _inner;
        private int _position;

        public PrefixedStream(byte[] prefix, int count, Stream inner)
        {
            _prefix = prefix;
            _count = count;
            _inner = inner;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position < _count)
            {
                int n = Math.Min(count, _count - _position);
                Buffer.BlockCopy(_prefix, _position, buffer, offset, n);
                _position += n;
                return n;
            }
            return _inner.Read(buffer, offset, count);
        }
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
