#!/usr/bin/env python3
"""Forward (batch scoring) benchmark: layerlab CPU backend vs PyTorch on the CPU.

Builds a GPT-2-124M-shaped and a Llama-shaped model with random weights (Hugging Face
layout, safetensors), then for T = 128, 512, 1024 tokens times the logits of every position
in layerlab (bench_forward) and in PyTorch (a plain eager implementation of the same model,
as Hugging Face's eager code computes it), on the same weights and ids, with the same number
of threads. Prints tokens/s for both, the ratio, and the max relative difference of logits.

Usage: /usr/bin/python3 bench/forward/run.py [--build build] [--seconds 3] [--lengths 128,512,1024]
Needs Debian's python3-torch and python3-numpy.
"""
import argparse, json, math, os, struct, subprocess, sys, tempfile, time
import numpy as np
import torch
import torch.nn.functional as F

SHAPES = {
    # GPT-2 small: 124M parameters.
    "gpt2-124M": dict(kind="gpt2", n_layer=12, d=768, heads=12, ff=3072, vocab=50257, ctx=1024),
    # Llama-shaped (grouped-query attention, SwiGLU, untied head), ~210M parameters.
    "llama-210M": dict(kind="llama", n_layer=12, d=1024, heads=16, kv_heads=4, ff=2816, vocab=32000, ctx=2048),
}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_model(name, s, folder):
    g = torch.Generator().manual_seed(0)
    r = lambda *shape: (torch.randn(*shape, generator=g) * 0.02).numpy()
    d, ff, L, V = s["d"], s["ff"], s["n_layer"], s["vocab"]
    t = {}
    if s["kind"] == "gpt2":
        t["transformer.wte.weight"] = r(V, d)
        t["transformer.wpe.weight"] = r(s["ctx"], d)
        for l in range(L):
            p = f"transformer.h.{l}."
            t[p + "ln_1.weight"] = 1 + r(d); t[p + "ln_1.bias"] = r(d)
            t[p + "attn.c_attn.weight"] = r(d, 3 * d); t[p + "attn.c_attn.bias"] = r(3 * d)
            t[p + "attn.c_proj.weight"] = r(d, d); t[p + "attn.c_proj.bias"] = r(d)
            t[p + "ln_2.weight"] = 1 + r(d); t[p + "ln_2.bias"] = r(d)
            t[p + "mlp.c_fc.weight"] = r(d, ff); t[p + "mlp.c_fc.bias"] = r(ff)
            t[p + "mlp.c_proj.weight"] = r(ff, d); t[p + "mlp.c_proj.bias"] = r(d)
        t["transformer.ln_f.weight"] = 1 + r(d); t["transformer.ln_f.bias"] = r(d)
        cfg = dict(model_type="gpt2", n_layer=L, n_embd=d, n_head=s["heads"], n_inner=None, vocab_size=V,
                   n_positions=s["ctx"], activation_function="gelu_new", layer_norm_epsilon=1e-5,
                   tie_word_embeddings=True)
    else:
        hd = d // s["heads"]
        t["model.embed_tokens.weight"] = r(V, d)
        t["lm_head.weight"] = r(V, d)
        for l in range(L):
            p = f"model.layers.{l}."
            t[p + "input_layernorm.weight"] = 1 + r(d)
            t[p + "self_attn.q_proj.weight"] = r(d, d)
            t[p + "self_attn.k_proj.weight"] = r(s["kv_heads"] * hd, d)
            t[p + "self_attn.v_proj.weight"] = r(s["kv_heads"] * hd, d)
            t[p + "self_attn.o_proj.weight"] = r(d, d)
            t[p + "post_attention_layernorm.weight"] = 1 + r(d)
            t[p + "mlp.gate_proj.weight"] = r(ff, d)
            t[p + "mlp.up_proj.weight"] = r(ff, d)
            t[p + "mlp.down_proj.weight"] = r(d, ff)
        t["model.norm.weight"] = 1 + r(d)
        cfg = dict(model_type="llama", num_hidden_layers=L, hidden_size=d, num_attention_heads=s["heads"],
                   num_key_value_heads=s["kv_heads"], intermediate_size=ff, vocab_size=V,
                   max_position_embeddings=s["ctx"], rms_norm_eps=1e-5, rope_theta=10000.0,
                   hidden_act="silu", tie_word_embeddings=False)
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"), t)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    return {k: torch.from_numpy(v) for k, v in t.items()}, cfg


def attention(q, k, v, causal_mask):
    # q: [H, T, hd], k/v: [H, T, hd]; eager softmax attention as in Hugging Face's eager path.
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(causal_mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def torch_gpt2(w, cfg, ids):
    T, d, H = len(ids), cfg["n_embd"], cfg["n_head"]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
    for l in range(cfg["n_layer"]):
        p = f"transformer.h.{l}."
        h = F.layer_norm(x, (d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        qkv = torch.addmm(w[p + "attn.c_attn.bias"], h, w[p + "attn.c_attn.weight"])
        q, k, v = (t.view(T, H, d // H).transpose(0, 1) for t in qkv.split(d, dim=1))
        a = attention(q, k, v, mask).transpose(0, 1).reshape(T, d)
        x = x + torch.addmm(w[p + "attn.c_proj.bias"], a, w[p + "attn.c_proj.weight"])
        h = F.layer_norm(x, (d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        u = F.gelu(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]), approximate="tanh")
        x = x + torch.addmm(w[p + "mlp.c_proj.bias"], u, w[p + "mlp.c_proj.weight"])
    x = F.layer_norm(x, (d,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
    return x @ w["transformer.wte.weight"].t()


def rms_norm(x, weight, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def torch_llama(w, cfg, ids):
    T, d, H, KV = len(ids), cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // H
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    x = w["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"])
        q = (h @ w[p + "self_attn.q_proj.weight"].t()).view(T, H, hd).transpose(0, 1)
        k = (h @ w[p + "self_attn.k_proj.weight"].t()).view(T, KV, hd).transpose(0, 1)
        v = (h @ w[p + "self_attn.v_proj.weight"].t()).view(T, KV, hd).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, 0), v.repeat_interleave(H // KV, 0)
        a = attention(q, k, v, mask).transpose(0, 1).reshape(T, d)
        x = x + a @ w[p + "self_attn.o_proj.weight"].t()
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"])
        g = F.silu(h @ w[p + "mlp.gate_proj.weight"].t()) * (h @ w[p + "mlp.up_proj.weight"].t())
        x = x + g @ w[p + "mlp.down_proj.weight"].t()
    x = rms_norm(x, w["model.norm.weight"])
    return x @ w["lm_head.weight"].t()


def time_torch(fn, w, cfg, ids, seconds):
    with torch.inference_mode():
        out = fn(w, cfg, ids)  # warm-up
        reps, t0 = 0, time.perf_counter()
        while True:
            fn(w, cfg, ids)
            reps += 1
            el = time.perf_counter() - t0
            if el >= seconds and reps >= 2:
                break
    return out, el / reps


def read_logits(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        e = h["logits"]
        f.seek(8 + n + e["data_offsets"][0])
        return np.frombuffer(f.read(e["data_offsets"][1] - e["data_offsets"][0]), dtype=np.float32).reshape(e["shape"])


def torch_blas_kernels():
    # Debian's PyTorch does its float32 products in OpenBLAS; which kernel set OpenBLAS chose
    # for this CPU decides most of its speed (OPENBLAS_CORETYPE overrides the choice).
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return "OpenBLAS, " + lib.openblas_get_corename().decode() + " kernels"
    except OSError:
        return "not OpenBLAS"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--lengths", default="128,512,1024")
    ap.add_argument("--models", default=",".join(SHAPES))
    args = ap.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    lengths = [int(x) for x in args.lengths.split(",")]
    exe = os.path.join(args.build, "bench", "bench_forward")
    print(f"threads: {threads} (torch {torch.__version__}, OMP_NUM_THREADS for layerlab = {threads})")
    print(f"PyTorch's BLAS: {torch_blas_kernels()} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    print(f"{'model':<12} {'T':>5} {'layerlab tok/s':>15} {'pytorch tok/s':>14} {'ratio':>6} {'max rel diff':>13}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            s = SHAPES[name]
            folder = os.path.join(tmp, name)
            w, cfg = make_model(name, s, folder)
            check = os.path.join(tmp, name + ".logits.safetensors")
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            out = subprocess.run([exe, folder, args.lengths, str(args.seconds), check], env=env, check=True,
                                 capture_output=True, text=True).stdout
            ours = {int(l.split("T=")[1].split()[0]): float(l.split("tokens_per_s=")[1]) for l in out.splitlines()}
            fn = torch_gpt2 if s["kind"] == "gpt2" else torch_llama
            for i, T in enumerate(lengths):
                ids = torch.tensor([(j * 7919) % s["vocab"] for j in range(T)])
                ref, sec = time_torch(fn, w, cfg, ids, args.seconds)
                theirs = T / sec
                diff = ""
                if i == 0:
                    mine = read_logits(check)
                    r = ref.numpy()
                    diff = f"{np.abs(mine - r).max() / np.abs(r).max():.2e}"
                rows.append((name, T, ours[T], theirs))
                print(f"{name:<12} {T:>5} {ours[T]:>15.1f} {theirs:>14.1f} {ours[T] / theirs:>6.2f} {diff:>13}", flush=True)
    geo = math.exp(sum(math.log(o / t) for _, _, o, t in rows) / len(rows))
    print(f"geometric-mean speed-up of layerlab over PyTorch: {geo:.2f}x")


if __name__ == "__main__":
    main()
