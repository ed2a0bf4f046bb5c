#!/usr/bin/env python3
"""Builds a training corpus of Python source (JSON lines, `path` + `text`) from a Debian
system's /usr/lib/python3.11, leaving out every file of ../shared/data/python-code/val.jsonl
(the held-out set used for validation), in sorted path order, up to --max-bytes.

  python3 bench/train/make_python_corpus.py --val ../shared/data/python-code/val.jsonl \
      --root /usr/lib/python3.11 --max-bytes 4000000 --out corpus.jsonl
"""
import argparse
import json
import os

ap = argparse.ArgumentParser()
ap.add_argument("--val", required=True)
ap.add_argument("--root", default="/usr/lib/python3.11")
ap.add_argument("--max-bytes", type=int, default=4_000_000)
ap.add_argument("--out", required=True)
a = ap.parse_args()
held_out = {json.loads(l)["path"] for l in open(a.val) if l.strip()}
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(a.root) for f in fs if f.endswith(".py"))
total = files = 0
os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
with open(a.out, "w") as out:
    for p in paths:
        if p in held_out or "/test" in p:  # tests are huge and repetitive
            continue
        try:
            text = open(p, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        if not text.strip():
            continue
        out.write(json.dumps({"path": p, "text": text}) + "\n")
        total += len(text.encode())
        files += 1
        if total >= a.max_bytes:
            break
print(f"{files} files, {total} bytes -> {a.out} ({len(held_out)} held-out paths excluded)")
