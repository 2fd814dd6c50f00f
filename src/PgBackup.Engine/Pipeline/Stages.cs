using System;
using System.IO;
using System.IO.Compression;
using System.Security.Cryptography;

namespace PgBackup
{
    /// <summary>A write-only stage that sees every byte on its way to the next stage.</summary>
    public abstract class WriteThroughStream : Stream
    {
        private readonly bool _leaveOpen;
        private bool _disposed;

        protected WriteThroughStream(Stream inner, bool leaveOpen)
        {
            Inner = inner;
            _leaveOpen = leaveOpen;
        }

        protected Stream Inner { get; }
        public long BytesWritten { get; private set; }

        protected abstract void Observe(byte[] buffer, int offset, int count);

        public override void Write(byte[] buffer, int offset, int count)
        {
            Observe(buffer, offset, count);
            Inner.Write(buffer, offset, count);
            BytesWritten += count;
        }

        public override void Flush() => Inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => BytesWritten;
        public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                if (!_leaveOpen) Inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>SHA-256 and size of everything written through it.</summary>
    public sealed class HashingStream : WriteThroughStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private string? _result;

        public HashingStream(Stream inner, bool leaveOpen = true) : base(inner, leaveOpen) { }

        protected override void Observe(byte[] buffer, int offset, int count) => _hash.AppendData(buffer, offset, count);

        /// <summary>The lower-case hex SHA-256 of everything written; call once writing is over.</summary>
        public string HashHex => _result ??= Hex(_hash.GetHashAndReset());

        public static string Hex(byte[] bytes)
        {
            var chars = new char[bytes.Length * 2];
            for (int i = 0; i < bytes.Length; i++)
            {
                chars[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
                chars[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
            }
            return new string(chars);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && _result is null)
            {
                _result = Hex(_hash.GetHashAndReset());
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>A stage that discards what it is given: the end of a read-only check.</summary>
    public sealed class NullSinkStream : WriteThroughStream
    {
        public NullSinkStream() : base(Stream.Null, leaveOpen: true) { }
        protected override void Observe(byte[] buffer, int offset, int count) { }
    }

    /// <summary>Compression and decompression stages: gzip (.gz), zstd (.zst) or none.</summary>
    public static class Compression
    {
        public const int DefaultGzipLevel = 6;
        public const int DefaultZstdLevel = 1;

        /// <summary>
        /// True for what a damaged or truncated compressed stream throws while it is read (the runtime's gzip reader
        /// and PgBackup's member reader: InvalidDataException, EndOfStreamException; ZstdSharp: ZstdException), as
        /// opposed to a failure of the storage or the caller.
        /// </summary>
        public static bool IsDamagedData(Exception e) =>
            e is InvalidDataException || e is EndOfStreamException || e is ZstdSharp.ZstdException;

        public static int DefaultLevel(CompressionMethod method) => method switch
        {
            CompressionMethod.Gzip => DefaultGzipLevel,
            CompressionMethod.Zstd => DefaultZstdLevel,
            _ => 0,
        };

        public static void ValidateLevel(CompressionMethod method, int level)
        {
            var (min, max) = method switch
            {
                CompressionMethod.Gzip => (1, 9),
                CompressionMethod.Zstd => (1, 19),
                _ => (0, 0),
            };
            if (method == CompressionMethod.None || level < min || level > max)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument,
                    method == CompressionMethod.None
                        ? "-CompressionLevel has no meaning with -Compression None."
                        : $"-CompressionLevel for {method} must be between {min} and {max}; {level} was given.", level);
        }

        /// <summary>A write stage that compresses into <paramref name="inner"/> (left open). Gzip compresses on several
        /// cores into a multi-member .gz (<see cref="ParallelGzipStream"/>).</summary>
        public static Stream CreateCompressor(CompressionMethod method, int level, Stream inner) => method switch
        {
            CompressionMethod.Gzip => new ParallelGzipStream(inner, level),
            CompressionMethod.Zstd => CreateZstd(inner, level),
            _ => new NonClosingStream(inner),
        };

        /// <summary>A read stage that decompresses <paramref name="inner"/> (closed with it).</summary>
        public static Stream CreateDecompressor(CompressionMethod method, Stream inner) => method switch
        {
            CompressionMethod.Gzip => new GzipMemberReader(inner, leaveOpen: false),
            CompressionMethod.Zstd => new ZstdSharp.DecompressionStream(inner, leaveOpen: false),
            _ => inner,
        };

        private static Stream CreateZstd(Stream inner, int level)
        {
            var z = new ZstdSharp.CompressionStream(inner, level, bufferSize: 1 << 20, leaveOpen: true);
            return z;
        }

        /// <summary>
        /// The runtime's gzip level for the zlib level asked for: the runtime takes a CompressionLevel, not a number
        /// (ZLibCompressionOptions needs .NET 9, newer than either build's target). Fastest is zlib's level 1,
        /// Optimal its default 6, SmallestSize (.NET 6 and later: the net8.0 build) its 9.
        /// </summary>
        private static CompressionLevel GzipCompressionLevel(int level) =>
            level <= 3 ? CompressionLevel.Fastest
#if NET
            : level == 9 ? CompressionLevel.SmallestSize
#endif
            : CompressionLevel.Optimal;

        /// <summary>The zlib level a gzip member is written at when <paramref name="level"/> is asked for.</summary>
        public static int GzipLevelUsed(int level) => GzipCompressionLevel(level) switch
        {
            CompressionLevel.Fastest => 1,
            CompressionLevel.Optimal => 6,
            _ => 9,
        };

        /// <summary>The zlib levels this build's gzip writes, for messages.</summary>
#if NET
        public const string GzipLevels = "1, 6 and 9";
#else
        public const string GzipLevels = "1 and 6";
#endif

        /// <summary>One gzip stream (one member) at the level <see cref="GzipLevelUsed"/> gives; leaves inner open.</summary>
        internal static Stream CreateSingleGzip(Stream inner, int level) => new GZipStream(inner, GzipCompressionLevel(level), leaveOpen: true);
    }

    /// <summary>Passes writes through but leaves the inner stream open when disposed.</summary>
    public sealed class NonClosingStream : WriteThroughStream
    {
        public NonClosingStream(Stream inner) : base(inner, leaveOpen: true) { }
        protected override void Observe(byte[] buffer, int offset, int count) { }
    }
}
