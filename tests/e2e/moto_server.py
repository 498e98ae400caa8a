"""moto's S3 server (`python -m moto.server`) for tests/backup.rs, with one fix for TLS clients.

Python's SSLSocket.shutdown drops TLS without close_notify when the development server closes a
connection, and OpenSSL 3 clients such as pgBackRest then fail with "unexpected eof while
reading". The server here sends close_notify first (unwrap); everything else is moto's.
"""
import socketserver
import ssl
import sys

import werkzeug.serving as serving


def shutdown_request(self, request):
    # Python's SSLSocket.shutdown drops TLS without close_notify; OpenSSL 3 clients then report
    # "unexpected eof while reading". unwrap() sends close_notify first.
    if isinstance(request, ssl.SSLSocket):
        try:
            request.unwrap()
        except (OSError, ssl.SSLError):
            pass
    socketserver.TCPServer.shutdown_request(self, request)


serving.BaseWSGIServer.shutdown_request = shutdown_request
from moto.server import main

main(sys.argv[1:])
