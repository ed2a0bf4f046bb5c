#!/usr/bin/env python3
"""The Painters study on one GPU (issue 14): how long the whole Llama-2-7B grid takes.

Run ON THE GPU MACHINE (torch + transformers there) after scripts/gpu/device.sh has built
build-gpu/app/layerlab:
  python3 bench/study/run.py --layerlab build-gpu/app/layerlab --data-dir .device/shared/data \
      --tokenizer .device/shared/tokenizers/llama2/tokenizer.model [--limit 100] [--ns 4,8,12]

1. A Llama-2-7B-shaped model with random bf16 weights (bench/cuda/run.py's make_model) and the
   Llama 2 tokenizer.
2. layerlab: `sweep --variants all` for a few N on the real task files (first --limit items),
   --device cuda --dtype bf16; per-configuration seconds come from the results lines.
3. The projection: the full grid = every variant (skip, middle_repeat, reverse, shuffle x
   --seeds, parallel, looped_parallel) x N = 1..15 x the tasks, every item of each file. A
   group's time per item is interpolated linearly in N between the measured N (a group at N
   shares its first N layers, so its cost falls with N) and scaled to the file's item count.
4. Hugging Face: the same items for the full model, requests built as lm-eval builds them
   (HFLM._encode_pair, left truncation), scored by a plain loop (transformers, sdpa, bf16,
   batch 32, longest first), in the same run; layerlab's full configuration on the same items
   for the ratio; tokens/s and MFU (2 x parameters flops per token plus attention).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cuda"))

TASK_FILES = {"arc_easy": "arc_easy/test.jsonl", "arc_challenge": "arc_challenge/test.jsonl",
              "hellaswag": "hellaswag/validation.jsonl", "winogrande": "winogrande/validation.jsonl",
              "lambada_openai": "lambada_openai/test.jsonl"}
VARIANTS_PER_N = ["skip", "middle_repeat", "reverse", "shuffle", "parallel", "looped_parallel"]


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--layerlab", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--tokenizer", required=True, help="the Llama 2 tokenizer.model")
    p.add_argument("--model-dir", default="/tmp/layerlab_llama7b_random")
    p.add_argument("--tasks", default="arc_easy,arc_challenge,hellaswag,winogrande,lambada_openai")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--ns", default="4,8,12")
    p.add_argument("--seeds", type=int, default=10, help="shuffle seeds in the projected grid")
    p.add_argument("--hf-batch", type=int, default=32)
    p.add_argument("--skip-hf", action="store_true")
    return p.parse_args()


def lines(path, limit):
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
            if len(out) == limit:
                break
    return out


def count_items(path):
    # make_sysroot.sh (STUDY=1) carries only the first items of each file and their full
    # counts in ITEMS.json beside the task folders.
    counts = os.path.join(os.path.dirname(os.path.dirname(path)), "ITEMS.json")
    if os.path.exists(counts):
        return json.load(open(counts))[os.path.basename(os.path.dirname(path))]
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def hellaswag_pre(text):
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def requests(task, doc):
    """lm-eval's (contexts, continuations, gold, choice strings for acc_norm) of one document."""
    if task in ("arc_easy", "arc_challenge"):
        ctx = "Question: " + doc["question"] + "\nAnswer:"
        texts = doc["choices"]["text"]
        return [ctx] * len(texts), [" " + t for t in texts], doc["choices"]["label"].index(doc["answerKey"]), texts
    if task == "hellaswag":
        ctx = hellaswag_pre(doc["activity_label"] + ": " + doc["ctx_a"] + " " + doc["ctx_b"].capitalize())
        ends = [hellaswag_pre(e) for e in doc["endings"]]
        return [ctx] * len(ends), [" " + e for e in ends], int(doc["label"]), ends
    if task == "winogrande":
        s = doc["sentence"]
        i = s.index("_")
        cont = " " + s[i + 1:].strip()
        ctxs = [s[:i] + doc["option1"], s[:i] + doc["option2"]]
        return ctxs, [cont, cont], int(doc["answer"]) - 1, None
    if task == "lambada_openai":
        words = doc["text"].split(" ")
        return [" ".join(words[:-1])], [" " + words[-1]], 0, None
    raise ValueError(task)


def encode_pair(enc, context, continuation):
    n = len(context) - len(context.rstrip())
    if n > 0:
        continuation = context[-n:] + continuation
        context = context[:-n]
    whole, ctx = enc(context + continuation), enc(context)
    return ctx, whole[len(ctx):]


def hf_score(args, model, enc, task, docs, max_len=4096):
    import torch
    reqs = []  # (tokens, n_continuation, doc index)
    per_doc = []
    for di, doc in enumerate(docs):
        ctxs, conts, gold, strs = requests(task, doc)
        per_doc.append((len(reqs), len(ctxs), gold, strs))
        for c, x in zip(ctxs, conts):
            ce, xe = encode_pair(enc, c, x)
            full = (ce + xe)[-(max_len + 1):]
            reqs.append((full, len(xe)))
    order = sorted(range(len(reqs)), key=lambda i: -len(reqs[i][0]))
    ll, greedy = [0.0] * len(reqs), [False] * len(reqs)
    tokens = sum(len(r[0]) - 1 for r in reqs)
    torch.cuda.synchronize()
    t0 = time.time()
    with torch.no_grad():
        for b in range(0, len(order), args.hf_batch):
            idx = order[b:b + args.hf_batch]
            T = max(len(reqs[i][0]) - 1 for i in idx)
            ids = torch.zeros((len(idx), T), dtype=torch.long)
            for r, i in enumerate(idx):
                inp = reqs[i][0][:-1]
                ids[r, :len(inp)] = torch.tensor(inp)
            logp = torch.log_softmax(model(ids.cuda()).logits.float(), dim=-1)
            for r, i in enumerate(idx):
                full, nc = reqs[i]
                L = len(full) - 1
                tgt = torch.tensor(full[-nc:], device="cuda")
                rows = logp[r, L - nc:L]
                ll[i] = rows.gather(1, tgt[:, None]).sum().item()
                greedy[i] = bool((rows.argmax(-1) == tgt).all().item())
    torch.cuda.synchronize()
    secs = time.time() - t0
    acc = accn = 0
    for start, n, gold, strs in per_doc:
        if task == "lambada_openai":
            acc += greedy[start]
            continue
        lls = ll[start:start + n]
        acc += max(range(n), key=lambda j: lls[j]) == gold
        if strs is not None:
            accn += max(range(n), key=lambda j: lls[j] / len(strs[j])) == gold
    return secs, tokens, acc / len(docs), accn / len(docs)


def run_sweep(args, variants, ns, out):
    if os.path.exists(out):
        os.remove(out)
    tasks = args.tasks.split(",")
    data = ",".join(f"{t}={os.path.join(args.data_dir, TASK_FILES[t])}" for t in tasks)
    cmd = [args.layerlab, "sweep", "--model", args.model_dir, "--variants", variants, "--tasks", args.tasks,
           "--data", data, "--limit", str(args.limit), "--device", "cuda", "--dtype", "bf16", "--out", out, "--quiet"]
    if ns:
        cmd += ["--n", ns]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(f"# phase layerlab_{variants} {t0:.2f} {time.time():.2f}", flush=True)
    print(r.stderr.strip()[-2000:], flush=True)
    if r.returncode != 0:
        sys.exit(f"layerlab sweep failed ({r.returncode})")
    rows = [json.loads(l) for l in open(out) if l.strip()]
    return time.time() - t0, rows


def main():
    args = parse()
    import run as cuda_run  # bench/cuda/run.py: the 7B model maker and the peak flops
    cuda_run_args = argparse.Namespace(model_dir=args.model_dir, layers=32)
    model = cuda_run.make_model(cuda_run_args)
    shutil.copy(args.tokenizer, os.path.join(args.model_dir, "tokenizer.model"))
    L = 32
    tasks = args.tasks.split(",")
    ns = [int(x) for x in args.ns.split(",")]

    # layerlab: the full model alone (for the ratio), then every variant at the chosen N.
    wall_full, full_rows = run_sweep(args, "full", "", "/tmp/study_full.jsonl")
    wall, rows = run_sweep(args, "all", args.ns, "/tmp/study.jsonl")
    full_s = {r["task"]: r["seconds"] for r in full_rows}
    group = {}  # (task, n) -> seconds of all plans at n (the full baseline excluded)
    for r in rows:
        if r["variant"] != "full":
            group[(r["task"], r["n"])] = group.get((r["task"], r["n"]), 0.0) + r["seconds"]
    plans_at_n = {n: sum(1 for r in rows if r["n"] == n and r["task"] == tasks[0]) for n in ns}
    print(f"# layerlab sweep: {len(rows)} result lines in {wall:.1f} s wall (model load included)")

    def interp(task, n):
        pts = sorted(ns)
        lo = max([p for p in pts if p <= n], default=pts[0])
        hi = min([p for p in pts if p >= n], default=pts[-1])
        if lo == hi:  # at or beyond the ends: the nearest segment's line
            a, b = (pts[0], pts[1]) if n <= pts[0] else (pts[-2], pts[-1])
        else:
            a, b = lo, hi
        ya, yb = group[(task, a)] / plans_at_n[a], group[(task, b)] / plans_at_n[b]
        return max(0.0, ya + (yb - ya) * (n - a) / (b - a))  # seconds per plan at n

    plans_full_grid = lambda: len(VARIANTS_PER_N) - 1 + args.seeds  # shuffle counted once per seed
    total = 0.0
    print("| task | items | full config s (limit) | projected grid s |\n| --- | --- | --- | --- |")
    for t in tasks:
        items = count_items(os.path.join(args.data_dir, TASK_FILES[t]))
        scale = items / args.limit
        grid = sum(interp(t, n) * plans_full_grid() for n in range(1, L // 2)) * scale + full_s[t] * scale
        total += grid
        print(f"| {t} | {items} | {full_s[t]:.2f} | {grid:.0f} |")
    print(f"# grid: {len(VARIANTS_PER_N)} variants (shuffle x {args.seeds} seeds) x N = 1..{L // 2 - 1} x "
          f"{len(tasks)} tasks + the full model, all items: projected {total / 60:.1f} min on this GPU "
          f"(measured at N = {args.ns}, --limit {args.limit}; GSM8K not included)")

    if args.skip_hf:
        return
    import torch
    try:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
        enc = lambda s: sp.encode(s)
        print("# HF side tokenizes with sentencepiece (the Llama 2 model file)")
    except ImportError:
        from transformers import LlamaTokenizer
        tk = LlamaTokenizer(vocab_file=args.tokenizer, legacy=True)
        enc = lambda s: tk(s, add_special_tokens=False)["input_ids"]
        print("# HF side tokenizes with transformers' LlamaTokenizer")
    if model is None:
        from transformers import LlamaForCausalLM
        model = LlamaForCausalLM.from_pretrained(args.model_dir, torch_dtype=torch.bfloat16,
                                                 attn_implementation="sdpa").cuda().eval()
    model.config._attn_implementation = "sdpa"
    peak = cuda_run.peak_flops("bf16")
    params = sum(p.numel() for p in model.parameters())
    print("| task | items | tokens | HF s | layerlab s | layerlab / HF speed | layerlab tok/s | MFU | HF acc | layerlab acc |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    hf_score(args, model, enc, tasks[0], lines(os.path.join(args.data_dir, TASK_FILES[tasks[0]]), 4))  # warm-up
    for t in tasks:
        docs = lines(os.path.join(args.data_dir, TASK_FILES[t]), args.limit)
        t0 = time.time()
        secs, tokens, acc, accn = hf_score(args, model, enc, t, docs)
        print(f"# phase hf_{t} {t0:.2f} {time.time():.2f}", flush=True)
        lr = next(r for r in full_rows if r["task"] == t)
        la = lr["metrics"]["acc"]["value"]
        tps = tokens / full_s[t]
        mfu = tps * 2 * params / peak
        print(f"| {t} | {len(docs)} | {tokens} | {secs:.2f} | {full_s[t]:.2f} | {secs / full_s[t]:.2f}x | "
              f"{tps:,.0f} | {mfu:.1%} | {acc:.3f} | {la:.3f} |", flush=True)


if __name__ == "__main__":
    main()
