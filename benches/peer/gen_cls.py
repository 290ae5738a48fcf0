#!/usr/bin/env python3
"""Writes a CLS-style export archive: a .tar.gz holding one file of about
SIZE_MIB of records, as JSON lines (`json`) or as CSV with a header and some
multi-line quoted fields (`csv`), with CLS's columns: __TIMESTAMP__,
__SOURCE__, __FILENAME__, __HOSTNAME__, __CONTENT__ and the log's fields."""
import csv
import io
import json
import sys
import tarfile

out, size_mib, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
target = size_mib * 1024 * 1024
columns = ["__TIMESTAMP__", "__SOURCE__", "__FILENAME__", "__HOSTNAME__", "__CONTENT__", "level", "status"]


def record(i):
    if i % 10 == 0:
        # A stack trace: one field over many lines, with quotes in it.
        content = 'panic: "index out of range"' + "".join(
            f"\n    at app::handler::step_{f} (src/handler.rs:{100 + f})" for f in range(24)
        )
        level = "ERROR"
    else:
        content = f'GET /api/v1/items/{i}?page={i % 17} HTTP/1.1 200 {i % 9000} "Mozilla/5.0"'
        level = "INFO"
    return [
        str(1_764_000_000_000 + i),
        f"10.0.{i % 200}.{i % 250}",
        "/var/log/app/app.log",
        f"node-{i % 31}",
        content,
        level,
        str(200 + i % 5),
    ]


data = io.BytesIO()
if fmt == "json":
    i = 0
    while data.tell() < target:
        data.write(
            (json.dumps(dict(zip(columns, record(i))), separators=(",", ":")) + "\n").encode()
        )
        i += 1
else:
    text = io.TextIOWrapper(data, encoding="utf-8", newline="")
    w = csv.writer(text, lineterminator="\r\n")
    w.writerow(columns)
    i = 0
    while data.tell() < target:
        for _ in range(1000):
            w.writerow(record(i))
            i += 1
        text.flush()
    text.flush()
    text.detach()
raw = data.getvalue()
with tarfile.open(out, "w:gz", compresslevel=6) as tar:
    info = tarfile.TarInfo(f"export.{fmt}")
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))
