#!/usr/bin/env python3
"""A null S3 endpoint for the benchmark's S3Null variant: it answers the requests of one New-PgBackup upload
(listings, the marker and manifest objects, a multipart upload and its parts) and discards the data, without hashing
or storing it. It stands for an S3 service whose CPU is on other machines, so that the benchmark can tell the time
PgBackup's S3 path costs on this machine from the time the co-located Ceph gateway costs. It is not an S3 server and
not a test double: nothing is kept, a listing is always empty, and the tests never use it.

Usage: NullS3.py [PORT]   (0 or none: a free port). Prints "port N" when it listens.
GET /?null-stats answers {"objects": {key: bytes received}} for the uploads completed so far.
"""
import hashlib
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
lock = threading.Lock()
uploads = {}   # upload id -> [key, bytes received]
objects = {}   # key -> bytes (completed uploads and single PUTs)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def read_body(self, keep):
        left = int(self.headers.get('Content-Length') or 0)
        count, kept = 0, bytearray()
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
            count += len(chunk)
            if keep:
                kept += chunk
        return count, kept

    def reply(self, code, body=b'', content_type='application/xml', headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        if body:
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if body and self.command != 'HEAD':
            self.wfile.write(body)

    def target(self):
        url = urlsplit(self.path)
        bucket, _, key = url.path.lstrip('/').partition('/')
        return bucket, unquote(key), parse_qs(url.query, keep_blank_values=True)

    def do_GET(self):
        bucket, key, query = self.target()
        if 'null-stats' in query:
            with lock:
                body = json.dumps({'objects': objects}).encode()
            return self.reply(200, body, 'application/json')
        if not key and 'uploads' in query:
            return self.reply(200, f'<ListMultipartUploadsResult {NS}><Bucket>{bucket}</Bucket>'
                                   '<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>'.encode())
        if not key:
            prefix = query.get('prefix', [''])[0]
            return self.reply(200, f'<ListBucketResult {NS}><Name>{bucket}</Name><Prefix>{prefix}</Prefix>'
                                   '<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>'
                                   '</ListBucketResult>'.encode())
        return self.reply(404, b'<Error><Code>NoSuchKey</Code><Message>The null endpoint keeps nothing.</Message></Error>')

    def do_HEAD(self):
        return self.reply(404)

    def do_PUT(self):
        bucket, key, query = self.target()
        if 'partNumber' in query:
            count, _ = self.read_body(keep=False)
            with lock:
                upload = uploads.get(query.get('uploadId', [''])[0])
                if upload:
                    upload[1] += count
            return self.reply(200, headers=[('ETag', '"%s"' % uuid.uuid4().hex)])
        count, data = self.read_body(keep=True)
        with lock:
            objects[key] = count
        return self.reply(200, headers=[('ETag', '"%s"' % hashlib.md5(data).hexdigest())])

    def do_POST(self):
        bucket, key, query = self.target()
        self.read_body(keep=False)
        if 'uploads' in query:
            upload_id = uuid.uuid4().hex
            with lock:
                uploads[upload_id] = [key, 0]
            return self.reply(200, f'<InitiateMultipartUploadResult {NS}><Bucket>{bucket}</Bucket><Key>{key}</Key>'
                                   f'<UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>'.encode())
        if 'uploadId' in query:
            with lock:
                upload = uploads.pop(query['uploadId'][0], None)
                if upload:
                    objects[upload[0]] = upload[1]
            return self.reply(200, f'<CompleteMultipartUploadResult {NS}><Bucket>{bucket}</Bucket><Key>{key}</Key>'
                                   f'<ETag>"{uuid.uuid4().hex}-1"</ETag></CompleteMultipartUploadResult>'.encode())
        return self.reply(400, b'<Error><Code>NotImplemented</Code><Message>Not a request of an upload.</Message></Error>')

    def do_DELETE(self):
        bucket, key, query = self.target()
        self.read_body(keep=False)
        with lock:
            uploads.pop(query.get('uploadId', [''])[0], None)
            objects.pop(key, None)
        return self.reply(204)


server = ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print('port', server.server_address[1], flush=True)
server.serve_forever()
