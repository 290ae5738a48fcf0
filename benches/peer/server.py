#!/usr/bin/env python3
"""A loopback stand-in for Atlas that serves one gzip file fast.

Answers the service-account token and revoke endpoints, and every GET with
the file given on the command line (sent with sendfile, so the server is
never the bottleneck). Prints its port on stdout, then serves until killed.
"""
import http.server
import json
import os
import socketserver
import sys

PATH = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/api/oauth/token"):
            body = json.dumps(
                {"access_token": "bench-token", "token_type": "Bearer", "expires_in": 3600}
            ).encode()
        else:
            body = b""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        size = os.path.getsize(PATH)
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.atlas.2023-02-01+gzip")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        with open(PATH, "rb") as f:
            self.request.sendfile(f)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
