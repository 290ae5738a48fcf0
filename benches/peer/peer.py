#!/usr/bin/env python3
"""The Python a user would write: stream a gzip log with requests and
inflate it with zlib into a file. The baseline logexport is compared with."""
import sys
import zlib

import requests

url, out = sys.argv[1], sys.argv[2]
with requests.get(url, stream=True, headers={"Authorization": "Bearer bench-token"}) as r:
    r.raise_for_status()
    with open(out, "wb") as f:
        d = zlib.decompressobj(wbits=31)
        for chunk in r.iter_content(chunk_size=64 * 1024):
            while chunk:
                f.write(d.decompress(chunk))
                if d.eof:
                    # The next gzip member, if the file has several.
                    chunk = d.unused_data
                    d = zlib.decompressobj(wbits=31)
                else:
                    chunk = b""
        f.write(d.flush())
