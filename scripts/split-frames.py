"""Splits a recorded frames file (4-byte big-endian length, then the frame)
into one file per frame, as seeds for the firehose_frame fuzz target.
Usage: python3 scripts/split-frames.py FRAMES DIR"""

import struct
import sys
from pathlib import Path

frames, out = Path(sys.argv[1]).read_bytes(), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
at = number = 0
while at < len(frames):
    (length,) = struct.unpack(">I", frames[at : at + 4])
    (out / f"frame-{number:03}").write_bytes(frames[at + 4 : at + 4 + length])
    at += 4 + length
    number += 1
