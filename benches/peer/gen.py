#!/usr/bin/env python3
"""Writes a gzip file of MongoDB-style audit log lines: SIZE_MIB of text."""
import gzip
import json
import sys

out, size_mib = sys.argv[1], int(sys.argv[2])
target = size_mib * 1024 * 1024
written = 0
i = 0
with gzip.open(out, "wb", compresslevel=6) as f:
    buf = []
    while written < target:
        line = json.dumps(
            {
                "atype": "authCheck",
                "ts": {"$date": f"2026-03-01T00:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z"},
                "uuid": {"$binary": f"{i:032x}", "$type": "04"},
                "local": {"ip": "10.0.0.1", "port": 27017},
                "remote": {"ip": f"10.1.{i % 250}.{i % 200}", "port": 40000 + i % 20000},
                "users": [{"user": f"svc-{i % 97}", "db": "admin"}],
                "roles": [{"role": "readWriteAnyDatabase", "db": "admin"}],
                "param": {"command": "find", "ns": f"app.coll{i % 13}", "args": {"filter": {"k": i}}},
                "result": 0,
            },
            separators=(",", ":"),
        ).encode() + b"\n"
        buf.append(line)
        written += len(line)
        i += 1
        if len(buf) == 4096:
            f.write(b"".join(buf))
            buf.clear()
    f.write(b"".join(buf))
