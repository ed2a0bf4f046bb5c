#!/usr/bin/env python3
"""Reference run for `layerlab train --blocks preln`: the same GPT-2 written in plain PyTorch,
started from the weights layerlab exported (--export-init, a Hugging Face GPT-2 folder) and fed
the batches layerlab drew (--save-batches), with torch.optim.AdamW, the same warm-up + cosine
schedule, torch.nn.utils.clip_grad_norm_ and the same weight-decay groups (weight matrices only).
Compares the per-step training loss with layerlab's log.csv and exits 1 if any step differs by
more than --tol.

  python3 bench/train/torch_preln.py --init DIR/init --batches DIR/batches.safetensors \
      --log DIR/run/log.csv --steps 50 --lr 1e-3 --warmup 5 [--device cuda] [--out report.json]
"""
import argparse
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "I32": np.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def learning_rate(step, total, lr, warmup, min_ratio):
    # Same formula as src/train/optimizer.cpp (step is 0-based).
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def gpt2_loss(p, cfg, idx, tgt):
    B, T = idx.shape
    C, H = cfg["n_embd"], cfg["n_head"]
    hd = C // H
    eps = cfg["layer_norm_epsilon"]
    x = p["transformer.wte.weight"][idx] + p["transformer.wpe.weight"][:T]
    mask = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
    for l in range(cfg["n_layer"]):
        w = lambda n: p[f"transformer.h.{l}.{n}"]
        h = F.layer_norm(x, (C,), w("ln_1.weight"), w("ln_1.bias"), eps)
        qkv = h @ w("attn.c_attn.weight") + w("attn.c_attn.bias")  # Conv1D: [in, out]
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ w("attn.c_proj.weight") + w("attn.c_proj.bias")
        h = F.layer_norm(x, (C,), w("ln_2.weight"), w("ln_2.bias"), eps)
        u = F.gelu(h @ w("mlp.c_fc.weight") + w("mlp.c_fc.bias"), approximate="tanh")
        x = x + u @ w("mlp.c_proj.weight") + w("mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    logits = x @ p["transformer.wte.weight"].T  # tied head
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", required=True)
    ap.add_argument("--batches", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--total-steps", type=int, default=None, help="schedule length (default --steps)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    # Plain fp32 everywhere: no TF32 on Ampere/Hopper.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(False)
    dev = torch.device(a.device)

    cfg = json.load(open(a.init + "/config.json"))
    params = {n: torch.tensor(v, device=dev, requires_grad=True)
              for n, v in read_safetensors(a.init + "/model.safetensors").items()}
    batches = torch.tensor(read_safetensors(a.batches)["batches"], device=dev)
    decay = [t for n, t in params.items() if n.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))]
    no_decay = [t for n, t in params.items() if not n.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, a.beta2), eps=1e-8, foreach=False)
    total = a.total_steps or a.steps
    ours = []
    with open(a.log) as f:
        next(f)
        for line in f:
            ours.append(float(line.split(",")[2]))
    steps = min(a.steps, len(ours), batches.shape[0])
    rows = []
    for step in range(steps):
        w = batches[step]
        loss = gpt2_loss(params, cfg, w[:, :-1], w[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(list(params.values()), a.clip if a.clip > 0 else float("inf"))
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, total, a.lr, a.warmup, a.min_lr_ratio)
        opt.step()
        rows.append({"step": step + 1, "torch": loss.item(), "layerlab": ours[step],
                     "diff": abs(loss.item() - ours[step]), "torch_grad_norm": float(gnorm)})
    worst = max(r["diff"] for r in rows)
    for r in rows[:3] + rows[-3:]:
        print(f"step {r['step']:3d}  torch {r['torch']:.6f}  layerlab {r['layerlab']:.6f}  |diff| {r['diff']:.2e}")
    ok = worst <= a.tol
    print(f"{steps} steps on {dev} (torch {torch.__version__}): max |loss diff| = {worst:.3e} "
          f"(tolerance {a.tol}) -> {'PASS' if ok else 'FAIL'}")
    if a.out:
        json.dump({"device": str(dev), "torch": torch.__version__, "steps": steps, "max_abs_diff": worst,
                   "tolerance": a.tol, "pass": ok, "rows": rows}, open(a.out, "w"), indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
