using System;
using System.IO;
using System.Threading;
using Amazon.S3.Model;

namespace PgBackup
{
    /// <summary>
    /// Reads one object as a stream (GetObject), without a local copy. When the connection breaks mid-way, reading
    /// goes on from where it stopped with a ranged GetObject of the same version (If-Match on its ETag), a few times.
    /// </summary>
    internal sealed class S3ReadStream : ReadOnlyStream
    {
        private const int MaxResumes = 3;
        private readonly S3Connection _s3;
        private readonly string _bucket;
        private readonly string _key;
        private readonly string _target;
        private readonly CancellationToken _ct;
        private GetObjectResponse? _response;
        private Stream? _body;
        private string? _etag;
        private long _position;
        private long _length = -1;
        private int _resumes;

        public S3ReadStream(S3Connection s3, string bucket, string key, string target, CancellationToken ct)
        {
            _s3 = s3;
            _bucket = bucket;
            _key = key;
            _target = target;
            _ct = ct;
            Open();
        }

        private void Open()
        {
            var request = new GetObjectRequest { BucketName = _bucket, Key = _key };
            if (_position > 0)
            {
                request.ByteRange = new ByteRange(_position, _length - 1);
                request.EtagToMatch = _etag;
            }
            var response = _s3.Call(c => _s3.Client.GetObjectAsync(request, c), "read", _target, write: false, _ct);
            _response = response;
            _body = response.ResponseStream;
            if (_position == 0)
            {
                _etag = response.ETag;
                _length = response.ContentLength;
            }
        }

        private void CloseResponse()
        {
            try { _body?.Dispose(); } catch (IOException) { }
            try { _response?.Dispose(); } catch (IOException) { }
            _body = null;
            _response = null;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (true)
            {
                _ct.ThrowIfCancellationRequested();
                if (_body is null) return 0;
                try
                {
                    int n = ReadBody(_body, buffer, offset, count);
                    _position += n;
                    if (n == 0 && _length >= 0 && _position < _length)
                        throw new IOException($"the server ended the response after {_position:N0} of {_length:N0} bytes");
                    return n;
                }
                catch (Exception e) when ((e is IOException || e is System.Net.Http.HttpRequestException || e is ObjectDisposedException || e is TimeoutException) && !_ct.IsCancellationRequested)
                {
                    CloseResponse();
                    if (++_resumes > MaxResumes || _length < 0)
                        throw new PgBackupException(ErrorIds.BackupReadFailed, ErrorKind.ReadError,
                            $"Reading {_target} failed after {_position:N0} bytes: {e.Message}", _target, e);
                    Thread.Sleep(200 * _resumes);
                    Open();
                }
            }
        }

        /// <summary>
        /// One read of the response body that ends on Ctrl+C, and fails with a TimeoutException when the server sends
        /// nothing for TimeoutSeconds (a silent connection would otherwise block for ever): disposing the body ends a
        /// blocked read on every runtime.
        /// </summary>
        private int ReadBody(Stream body, byte[] buffer, int offset, int count)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(_ct);
            limit.CancelAfter(TimeSpan.FromSeconds(_s3.Options.TimeoutSeconds));
            using (limit.Token.Register(() => { try { body.Dispose(); } catch (Exception) { } }))
            {
                try
                {
                    return body.ReadAsync(buffer, offset, count, limit.Token).GetAwaiter().GetResult();
                }
                catch (Exception) when (_ct.IsCancellationRequested)
                {
                    throw new OperationCanceledException(_ct);
                }
                catch (Exception) when (limit.IsCancellationRequested)
                {
                    throw new TimeoutException($"{_s3.Endpoint} sent no data for {_s3.Options.TimeoutSeconds} s (-S3TimeoutSeconds)");
                }
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) CloseResponse();
            base.Dispose(disposing);
        }

        public override long Length => _length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
    }
}
