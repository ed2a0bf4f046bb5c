#!/usr/bin/env python3
"""Sums ncu's gpu__time_duration per kernel name (csv from bench/cuda/profile.sh), divided by the
number of passes, and prints a table: kernel, calls per pass, ms per pass, share."""
import csv
import sys
from collections import defaultdict

path, passes = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
rows = []
with open(path) as f:
    lines = [l for l in f if l.startswith('"')]
tot, cnt = defaultdict(float), defaultdict(int)
for r in csv.DictReader(lines):
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    name = r["Kernel Name"].replace("(anonymous namespace)", "anon").replace("<unnamed>", "anon").replace("void ", "")
    short = name.split("(")[0].split("<")[0].split("::")[-1] if "cutlass" not in name and "gemm" not in name.lower() else name[:90]
    v = float(r["Metric Value"].replace(",", ""))
    unit = r["Metric Unit"]
    v *= {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}.get(unit, 1e-6)
    tot[short] += v
    cnt[short] += 1
total = sum(tot.values())
print(f"{'kernel':92} {'calls':>7} {'ms/pass':>9} {'share':>6}")
for k, v in sorted(tot.items(), key=lambda kv: -kv[1]):
    print(f"{k[:92]:92} {cnt[k] / passes:7.1f} {v / passes:9.3f} {100 * v / total:5.1f}%")
print(f"{'total':92} {sum(cnt.values()) / passes:7.1f} {total / passes:9.3f}")
