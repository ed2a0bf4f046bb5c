#!/usr/bin/env python3
"""Batch scoring on the GPU: layerlab's CUDA backend vs Hugging Face transformers, same weights,
same run.

1. Builds a Llama-2-7B-shaped model (32 layers, d=4096, 32 heads, SwiGLU 11008, vocab 32000)
   with random bf16 weights ON the GPU (HF's own initialiser, std 0.02) and saves it as
   safetensors (the same files for both sides).
2. layerlab (bench_cuda): scoring of BATCH x TOKENS tokens (log p of every next token), for the
   full plan and a Painters parallel plan (first/last N layers sequential, the middle layers one
   parallel group), plus the same parallel plan with member GEMMs issued one at a time.
3. Hugging Face (torch, bf16): the same scoring with attn_implementation eager and sdpa; the
   parallel plan as a loop over the decoder layers (members on the same input, averaged).
4. Prints tokens/s, model FLOP utilisation (MFU) and the ratios, and checks that layerlab's
   log-probabilities agree with HF's.

  python3 bench/cuda/run.py --bench build/bench/cuda/bench_cuda [--layers 32] [--batch 8] [--tokens 512]
"""
import argparse
import gc
import json
import os
import subprocess
import sys
import time

import torch


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True, help="path of the bench_cuda executable")
    p.add_argument("--model-dir", default="/tmp/layerlab_llama7b_random")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--n", type=int, default=4, help="parallel plan: N sequential layers at each end")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--skip-hf", action="store_true")
    return p.parse_args()


def make_model(args):
    """Returns the model (on the GPU, bf16) when generated here, else None."""
    from transformers import LlamaConfig, LlamaForCausalLM
    if os.path.exists(os.path.join(args.model_dir, "config.json")):
        return None
    t0 = time.time()
    cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=args.layers,
                      num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                      rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(args.model_dir, safe_serialization=True)
    print(f"# generated {args.model_dir} in {time.time() - t0:.1f}s", flush=True)
    return model.eval()


def ids_for(args, vocab=32000):
    B, T = args.batch, args.tokens
    return torch.tensor([[(b * 104729 + t * 7919 + 1) % vocab for t in range(T)] for b in range(B)], dtype=torch.long)


def plans(args):
    L, n = args.layers, args.n
    par = [[i] for i in range(n)] + [list(range(n, L - n))] + [[i] for i in range(L - n, L)]
    text = f"0-{n - 1},[{n}-{L - n - 1}],{L - n}-{L - 1}"
    return {"full": ([[i] for i in range(L)], "full"), "parallel": (par, text)}


def flops_per_token(args):
    # Matrix products of every layer application and the head (2 flops per multiply-add) plus
    # causal attention (QK^T and PV over (T+1)/2 keys on average).
    d, ff, L, V, T = 4096, 11008, args.layers, 32000, args.tokens
    per_layer = 2 * (4 * d * d + 3 * d * ff) + 2 * 2 * d * (T + 1) / 2
    return L * per_layer + 2 * d * V


def peak_flops(dtype):
    name = torch.cuda.get_device_name(0)
    dense_bf16 = 989e12  # H100 SXM / H200: dense bf16 tensor-core peak
    if "H100" not in name and "H200" not in name:
        print(f"# unknown GPU {name}: assuming the H100/H200 bf16 peak", flush=True)
    return {"bf16": dense_bf16, "f16": dense_bf16, "tf32": dense_bf16 / 2, "f32": 67e12}[dtype]


def run_layerlab(args, plan_texts):
    env = dict(os.environ)
    out = "/tmp/layerlab_bench_logprobs.safetensors"
    cmd = [args.bench, args.model_dir, args.dtype, str(args.batch), str(args.tokens), str(args.seconds),
           ";".join(plan_texts), out]
    print("# " + " ".join(repr(c) if ";" in c or "[" in c else c for c in cmd), flush=True)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise SystemExit(f"bench_cuda failed ({r.returncode})")
    res = {}
    for line in r.stdout.splitlines():
        if line.startswith("layerlab plan="):
            kv = dict(f.split("=", 1) for f in line.split()[1:])
            res[kv["plan"]] = float(kv["tokens_per_s"])
    from safetensors.torch import load_file
    return res, load_file(out)["logprobs"]


def hf_scores(model, ids, plan, impl):
    """log p(x[t+1] | x[..t]) via a loop over decoder layers following `plan`."""
    m = model.model
    B, T = ids.shape
    h = m.embed_tokens(ids)
    pos = torch.arange(T, device=ids.device).unsqueeze(0).expand(B, -1)
    pe = m.rotary_emb(h, pos)
    if impl == "sdpa":
        mask = None  # sdpa: is_causal
    else:
        mask = torch.full((T, T), torch.finfo(h.dtype).min, device=ids.device, dtype=h.dtype).triu(1)
        mask = mask[None, None].expand(B, 1, T, T)

    def layer(i, x):
        y = m.layers[i](x, attention_mask=mask, position_ids=pos, position_embeddings=pe)
        return y[0] if isinstance(y, tuple) else y

    for step in plan:
        if len(step) == 1:
            h = layer(step[0], h)
        else:
            h = torch.stack([layer(i, h) for i in step]).float().mean(0).to(h.dtype)
    h = m.norm(h)
    logits = model.lm_head(h).float()
    lp = torch.log_softmax(logits, dim=-1)[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    return lp.cpu()


def hf_full(model, ids):
    logits = model(ids).logits.float()
    lp = torch.log_softmax(logits, dim=-1)[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    return lp.cpu()


def phase(name, start):
    """Marks a timed phase (epoch seconds) for bench/cuda/clocks_summary.py."""
    print(f"# phase {name} {start:.2f} {time.time():.2f}", flush=True)


def timed(fn, seconds):
    fn()
    fn()
    torch.cuda.synchronize()
    reps, t0 = 0, time.time()
    while True:
        out = fn()
        reps += 1
        el = time.time() - t0
        if el >= seconds and reps >= 3:
            return el / reps, out


def main():
    args = parse()
    model = make_model(args)
    P = plans(args)
    fpt = flops_per_token(args)
    peak = peak_flops(args.dtype)
    ntok = args.batch * args.tokens
    rows = []
    par = P["parallel"][1]
    small = [f"{b}x{t}@{u}{par}" for (b, t) in ((1, 64), (1, 512)) for u in ("", "unbatched:")]
    t0 = time.time()
    ll, ll_lp = run_layerlab(args, [P["full"][1], par, "unbatched:" + par] + small)
    phase("layerlab", t0)
    rows.append(("layerlab", args.dtype, "full", ll[P["full"][1]]))
    rows.append(("layerlab", args.dtype, "parallel", ll[P["parallel"][1]]))
    rows.append(("layerlab (members one GEMM each)", args.dtype, "parallel", ll["unbatched:" + P["parallel"][1]]))
    agree = {}
    if not args.skip_hf:
        from transformers import AutoModelForCausalLM
        ids = ids_for(args).cuda()
        if model is None:
            model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16).cuda().eval()
        for impl in ("eager", "sdpa"):
            try:
                model.set_attn_implementation(impl)
            except Exception:
                model.config._attn_implementation = impl
            print(f"# HF attention: {model.config._attn_implementation}", flush=True)
            with torch.inference_mode():
                t0 = time.time()
                s_full, lp_full = timed(lambda: hf_full(model, ids), args.seconds)
                phase(f"HF-{impl}-full", t0)
                s_par, _ = timed(lambda: hf_scores(model, ids, P["parallel"][0], impl), args.seconds)
                _, lp_loop = timed(lambda: hf_scores(model, ids, P["full"][0], impl), 0)
            rows.append((f"HF {impl}", "bf16", "full", ntok / s_full))
            rows.append((f"HF {impl}", "bf16", "parallel", ntok / s_par))
            ref = lp_full.float()
            got = ll_lp[:, :-1].float()
            agree[impl] = (float((got - ref).abs().max()), float((lp_loop.float() - ref).abs().max()),
                           float(ref.abs().max()))
    print()
    print(f"GPU: {torch.cuda.get_device_name(0)}; Llama-2-7B-shaped, {args.layers} layers, random bf16 weights; "
          f"batch {args.batch} x {args.tokens} tokens scored (log p of each next token); "
          f"parallel plan = {P['parallel'][1]}; MFU vs {peak / 1e12:.0f} TFLOP/s, "
          f"{fpt / 1e9:.2f} GFLOP/token")
    base = {r[0] + r[2]: r[3] for r in rows}
    print(f"| {'who':34} | dtype | plan     | tokens/s | MFU   | layerlab / this |")
    print(f"|{'-' * 36}|-------|----------|----------|-------|-----------------|")
    for who, dt, plan, tps in rows:
        mine = base["layerlab" + plan]
        print(f"| {who:34} | {dt:5} | {plan:8} | {tps:8.0f} | {100 * tps * fpt / peak:4.1f}% | {mine / tps:15.2f} |")
    if "layerlabparallel" in base:
        print(f"parallel-group speedup (layerlab batched GEMMs / one GEMM per member): "
              f"{base['layerlabparallel'] / base['layerlab (members one GEMM each)parallel']:.2f}x at "
              f"{args.batch}x{args.tokens}; " + "; ".join(
                  f"{b}x{t}: {ll[f'{b}x{t}@{par}'] / ll[f'{b}x{t}@unbatched:{par}']:.2f}x "
                  f"({ll[f'{b}x{t}@{par}']:.0f} vs {ll[f'{b}x{t}@unbatched:{par}']:.0f} tokens/s)"
                  for (b, t) in ((1, 64), (1, 512))))
    for impl, (e1, e2, s) in agree.items():
        print(f"agreement vs HF {impl} full forward: max |layerlab - HF| log-prob = {e1:.4f} "
              f"(HF layer loop vs HF forward: {e2:.4f}; max |log-prob| {s:.2f})")


if __name__ == "__main__":
    main()
