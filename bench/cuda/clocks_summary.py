#!/usr/bin/env python3
"""GPU clocks and power during each phase of bench/cuda/run.py: tells a clock drop under
sustained load apart from launch gaps (nsys is not available on the GPU machine).

  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,\\
      clocks_throttle_reasons.active --format=csv,noheader,nounits -lms 100 > clocks.csv &
  python3 bench/cuda/run.py ... | tee bench.log
  python3 bench/cuda/clocks_summary.py clocks.csv bench.log
"""
import statistics
import sys
from datetime import datetime


def samples(path):
    for line in open(path):
        f = [x.strip() for x in line.split(",")]
        if len(f) < 7:
            continue
        try:
            t = datetime.strptime(f[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            yield t, float(f[1]), float(f[2]), float(f[3]), float(f[4]), float(f[5]), f[6]
        except ValueError:
            continue


def main():
    rows = list(samples(sys.argv[1]))
    phases = []
    for line in open(sys.argv[2]):
        if line.startswith("# phase "):
            _, _, name, a, b = line.split()
            phases.append((name, float(a), float(b)))
    print("| phase | samples | SM MHz median (min-max) | max MHz | power W median / limit | temp C | throttle reasons seen |")
    print("|---|---|---|---|---|---|---|")
    for name, a, b in phases:
        s = [r for r in rows if a <= r[0] <= b]
        busy = [r for r in s if r[3] > 200] or s  # drop idle samples (model loading, host work)
        if not busy:
            print(f"| {name} | 0 | | | | | |")
            continue
        clk = [r[1] for r in busy]
        reasons = sorted({r[6] for r in busy})
        print(f"| {name} | {len(busy)} | {statistics.median(clk):.0f} ({min(clk):.0f}-{max(clk):.0f}) | {busy[0][2]:.0f} | "
              f"{statistics.median(r[3] for r in busy):.0f} / {busy[0][4]:.0f} | {max(r[5] for r in busy):.0f} | "
              f"{' '.join(reasons)} |")


if __name__ == "__main__":
    main()
