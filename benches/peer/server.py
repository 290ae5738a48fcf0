#!/usr/bin/env python3
"""A loopback stand-in for Atlas (and, optionally, CLS) that serves files fast.

Answers the service-account token and revoke endpoints, and every GET with
the file given on the command line (sent with sendfile, so the server is
never the bottleneck). Given two more files (CLS export archives, JSON and
CSV), it also answers CLS's DescribeExports with two Completed exports whose
pre-signed download is `/cls/json` or `/cls/csv`. Prints its port on stdout,
then serves until killed.
"""
import http.server
import json
import os
import socketserver
import sys

PATH = sys.argv[1]
CLS = dict(zip(["json", "csv"], sys.argv[2:4]))
# The ids `benches/peer/run.sh` asks for, one per format.
CLS_EXPORTS = {
    "json": "0a1b2c3d-4e5f-4a6b-8c7d-000000000001",
    "csv": "0a1b2c3d-4e5f-4a6b-8c7d-000000000002",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.headers.get("X-TC-Action") == "DescribeExports":
            body = json.dumps({"Response": {"Exports": self.cls_exports(), "TotalCount": len(CLS), "RequestId": "r1"}}).encode()
        elif self.headers.get("X-TC-Action"):
            body = json.dumps({"Response": {"RequestId": "r2"}}).encode()
        elif self.path.startswith("/api/oauth/token"):
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

    def cls_exports(self):
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        return [
            {
                "TopicId": "5c1d7b0e-3f4a-4e2b-9c8d-7a6b5c4d3e2f", "ExportId": CLS_EXPORTS[fmt],
                "Query": "*", "FileName": f"{fmt}.tar.gz", "FileSize": os.path.getsize(path),
                "Order": "desc", "Format": fmt, "Count": 10, "Status": "Completed",
                "From": 0, "To": 1, "CosPath": f"{base}/cls/{fmt}?sign=bench",
                "CreateTime": "2026-03-01 00:00:00", "SyntaxRule": 1,
            }
            for fmt, path in CLS.items()
        ]

    def do_GET(self):
        path, kind = PATH, "application/vnd.atlas.2023-02-01+gzip"
        if self.path.startswith("/cls/"):
            path, kind = CLS[self.path[5:].split("?")[0]], "application/octet-stream"
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        with open(path, "rb") as f:
            self.request.sendfile(f)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
