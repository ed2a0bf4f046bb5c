#!/usr/bin/env python3
"""layerlab vs llama.cpp (node-llama-cpp 3.21.1, CPU) on one GGUF file, same ids, same threads.

  /usr/bin/python3 bench/llamacpp/run.py MODEL.gguf [THREADS] [--rounds 2] [--reps 3] [--build build]

Installs the pinned package if missing (`npm ci` in bench/llamacpp), writes the ids once
(`bench_gguf ids`, from ../shared/data/python-code/val.jsonl), then runs layerlab and llama.cpp
interleaved (layerlab, llama.cpp, layerlab, llama.cpp, ...): each speed is the best over all
rounds and each round's REPS repetitions (the machine is shared; the fastest run is the one
least disturbed), and each side starts once the CPUs were idle >= --quiet over a second (or
after --wait seconds). Perplexity is computed in the first round only (it is deterministic).
Prints a Markdown table: tok/s of both sides and their ratio, the mean log p of both, and how
many of the greedy tokens agree. Python standard library only.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "..", "shared", "data", "python-code", "val.jsonl")


def fail(msg):
    sys.exit("run.py: error: " + msg)


def json_lines(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[-2000:]))
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])  # idle + iowait, total


def idle_fraction(seconds=1.0):
    i0, t0 = cpu_times()
    time.sleep(seconds)
    i1, t1 = cpu_times()
    return (i1 - i0) / max(1, t1 - t0)


def wait_quiet(threshold, budget):
    """Waits (up to `budget` s) until the CPUs were idle >= threshold over a second: the cores
    are shared, and a 2-thread run stalls whenever another process takes one of them."""
    deadline = time.time() + budget
    while True:
        idle = idle_fraction()
        if idle >= threshold or time.time() > deadline:
            return idle


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("threads", nargs="?", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of both sides (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each measurement per round (default 3)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="layerlab build folder")
    ap.add_argument("--data", default=DATA, help="JSON-lines text the ids come from")
    ap.add_argument("--quiet", type=float, default=0.8, help="idle CPU fraction to wait for before each side (default 0.8)")
    ap.add_argument("--wait", type=float, default=90, help="at most this many seconds of waiting per side (default 90)")
    a = ap.parse_args()
    if not os.path.isfile(a.model):
        fail("MODEL: %s is not a file" % a.model)
    if a.threads < 1 or a.rounds < 1 or a.reps < 1:
        fail("THREADS, --rounds and --reps must be >= 1")
    bench = os.path.join(a.build, "bench", "bench_gguf")
    if not os.access(bench, os.X_OK):
        fail("--build: %s missing (cd build && make -j2 bench_gguf)" % bench)
    if not os.path.isdir(os.path.join(HERE, "node_modules", "node-llama-cpp")):
        # --ignore-scripts: the package's postinstall would try to download or build; the
        # prebuilt CPU binaries come inside @node-llama-cpp/linux-x64 (peer.mjs: build "never").
        print("installing node-llama-cpp (npm ci) ...", file=sys.stderr)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=HERE, check=True)

    model = os.path.abspath(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        ids = os.path.join(tmp, "ids.json")
        json_lines([bench, "ids", model, a.data, ids])
        results = {"layerlab": [], "llama.cpp": []}
        loads = []
        for r in range(a.rounds):
            measures = "pp,decode,ppl" if r == 0 else "pp,decode"
            sides = [("layerlab", [bench, "run", model, ids, str(a.threads), str(a.reps), measures]),
                     ("llama.cpp", ["node", os.path.join(HERE, "peer.mjs"), model, ids, str(a.threads),
                                    str(a.reps), measures])]
            for side, cmd in sides:
                loads.append(wait_quiet(a.quiet, a.wait))
                results[side] += json_lines(cmd)
                print("round %d %s done" % (r + 1, side), file=sys.stderr)
    report(a, results, loads)


def best(lines, measure, field="tok_s"):
    vals = [x[field] for x in lines if x["measure"] == measure and field in x]
    return max(vals) if vals else float("nan")


def first(lines, measure):
    return next(x for x in lines if x["measure"] == measure)


def report(a, res, loads):
    ll, lc = res["layerlab"], res["llama.cpp"]
    info = first(lc, "info")
    print("model %s, %d threads, %d rounds x %d reps, idle CPU before each side %.0f-%.0f%%"
          % (os.path.basename(a.model), a.threads, a.rounds, a.reps, 100 * min(loads), 100 * max(loads)))
    print("llama.cpp: node-llama-cpp %s build, release %s, flash attention %s, threads %s"
          % (info["build"], info["llama_cpp"]["release"], info["flash_attention"], info["threads"]))
    print()
    print("| measurement | layerlab tok/s | llama.cpp tok/s | layerlab / llama.cpp |")
    print("| --- | ---: | ---: | ---: |")
    rows = [("prompt 128 tokens", "pp128", "tok_s"), ("prompt 512 tokens", "pp512", "tok_s"),
            ("decode 128 tokens (whole run)", "decode128", "tok_s"),
            ("decode 128 tokens (median step)", "decode128", "median_step_tok_s")]
    for name, m, f in rows:
        x, y = best(ll, m, f), best(lc, m, f)
        print("| %s | %.1f | %.1f | %.2f |" % (name, x, y, x / y))
    p, q = first(ll, "ppl"), first(lc, "ppl")
    print()
    print("| perplexity (%d predictions, %d windows) | layerlab | llama.cpp | difference |"
          % (p["predictions"], len(p["per_window"])))
    print("| --- | ---: | ---: | ---: |")
    print("| mean log p (nats) | %.5f | %.5f | %+.5f |" % (p["mean_logp"], q["mean_logp"], p["mean_logp"] - q["mean_logp"]))
    print("| perplexity | %.4f | %.4f | %+.4f |" % (p["ppl"], q["ppl"], p["ppl"] - q["ppl"]))
    worst = max(abs(u - v) for u, v in zip(p["per_window"], q["per_window"]))
    print("| largest window difference of mean log p | | | %.5f |" % worst)
    g, h = first(ll, "decode128")["generated"], first(lc, "decode128")["generated"]
    same = next((i for i, (u, v) in enumerate(zip(g, h)) if u != v), min(len(g), len(h)))
    print()
    print("greedy tokens: the first %d of %d agree" % (same, min(len(g), len(h))))
    sys.stdout.flush()
    if any(math.isnan(best(s, "pp128")) for s in (ll, lc)):
        fail("a side printed no pp128 line")


if __name__ == "__main__":
    main()
