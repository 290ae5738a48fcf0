#!/usr/bin/env python3
"""The Python a user would write for a CLS export: stream the .tar.gz with
requests, read it with tarfile in stream mode, and write NDJSON: JSON lines
as they are, CSV rows through the csv module and json.dumps."""
import csv
import io
import json
import sys
import tarfile

import requests



class Member(io.RawIOBase):
    """A tar member read in stream mode, made readable for TextIOWrapper
    (tarfile's stream-mode file object lacks `seekable` before Python 3.12)."""

    def __init__(self, f):
        self.f = f

    def readable(self):
        return True

    def readinto(self, b):
        data = self.f.read(len(b))
        b[: len(data)] = data
        return len(data)


def text(member):
    return io.TextIOWrapper(io.BufferedReader(Member(member), 1 << 16), encoding="utf-8", newline="")


url, fmt, out = sys.argv[1], sys.argv[2], sys.argv[3]
with requests.get(url, stream=True) as r:
    r.raise_for_status()
    with tarfile.open(fileobj=r.raw, mode="r|gz") as tar, open(out, "w", encoding="utf-8") as f:
        for member in tar:
            if not member.isfile():
                continue
            data = text(tar.extractfile(member))
            if fmt == "json":
                for line in data:
                    if line.strip():
                        f.write(line if line.endswith("\n") else line + "\n")
            else:
                rows = csv.reader(data)
                header = next(rows)
                for row in rows:
                    f.write(json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n")
