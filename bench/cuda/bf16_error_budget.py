#!/usr/bin/env python3
"""How much of the bf16 distance from the float64 golden references is the format itself?

An independent float64 reimplementation of the golden models (Llama: RMSNorm, rotate-half RoPE,
GQA, SwiGLU; BERT: post-LayerNorm, erf GELU, MLM head) in PyTorch, with rounding to bf16
switched on at chosen points only. With no rounding it reproduces ../shared/golden exactly
(printed as the first row, a check of this script). The metric is tests/golden.h's:
max |got - ref| / max |ref| over a tensor, maximised over every residual (and, for BERT, the
final norm) of the chosen cases.

The point: if rounding the weights alone to bf16 already exceeds a tolerance, no bf16
implementation can meet it, whatever its kernels do.

  python3 bench/cuda/bf16_error_budget.py [SHARED_DIR]   (CPU only; about a minute)
"""
import json
import math
import struct
import sys

import numpy as np
import torch


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    types = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=types[t["dtype"]]).reshape(t["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def to_bf16(x):
    return x.to(torch.bfloat16).double()


def keep(x):
    return x


class Rounding:
    """Which values are rounded to bf16: weights (W), GEMM inputs (A), the up / QKV GEMM
    outputs (O), the residual stream and embeddings (S), attention probabilities (P)."""

    def __init__(self, points):
        self.points = points
        for p in "WAOSP":
            setattr(self, p, to_bf16 if p in points else keep)


def rel(got, ref):
    ref = ref.double()
    return float((got - ref).abs().max() / ref.abs().max())


class Llama:
    def __init__(self, d):
        self.W = {k: v.double() for k, v in load_safetensors(d + "/model.safetensors").items()}
        c = json.load(open(d + "/config.json"))
        self.L, self.H, self.KV = c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd, self.eps = c["head_dim"], c["rms_norm_eps"]
        self.theta = c.get("rope_parameters", {}).get("rope_theta", c.get("rope_theta", 10000.0))

    def layer(self, x, l, r, cos, sin):
        W, T, H, KV, hd = self.W, x.shape[0], self.H, self.KV, self.hd
        p = f"model.layers.{l}."
        lin = lambda t, n: t @ r.W(W[p + n + ".weight"]).T
        norm = lambda t, w: t * torch.rsqrt((t * t).mean(-1, keepdim=True) + self.eps) * w

        def rope(t):
            a, b = t[..., :hd // 2], t[..., hd // 2:]
            return t * cos + torch.cat([-b, a], -1) * sin

        n = r.A(norm(x, W[p + "input_layernorm.weight"]))
        q = r.O(lin(n, "self_attn.q_proj")).view(T, H, hd).transpose(0, 1)
        k = r.O(lin(n, "self_attn.k_proj")).view(T, KV, hd).transpose(0, 1)
        v = r.O(lin(n, "self_attn.v_proj")).view(T, KV, hd).transpose(0, 1)
        q, k = rope(q), rope(k)
        k, v = k.repeat_interleave(H // KV, 0), v.repeat_interleave(H // KV, 0)
        s = q @ k.transpose(1, 2) / math.sqrt(hd)
        s = s + torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), 1)
        ctx = r.A((r.P(torch.softmax(s, -1)) @ v).transpose(0, 1).reshape(T, H * hd))
        x = r.S(x + lin(ctx, "self_attn.o_proj"))
        n = r.A(norm(x, W[p + "post_attention_layernorm.weight"]))
        a = r.A(torch.nn.functional.silu(r.O(lin(n, "mlp.gate_proj"))) * r.O(lin(n, "mlp.up_proj")))
        return r.S(x + lin(a, "mlp.down_proj"))

    def run(self, ids, steps, r):
        T = len(ids)
        x = r.S(self.W["model.embed_tokens.weight"][ids])
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd))
        ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        return run_plan(x, steps, lambda h, l: self.layer(h, l, r, cos, sin)), None


class Bert:
    def __init__(self, d):
        self.W = {k: v.double() for k, v in load_safetensors(d + "/model.safetensors").items()}
        c = json.load(open(d + "/config.json"))
        self.H, self.d, self.eps = c["num_attention_heads"], c["hidden_size"], c["layer_norm_eps"]

    def ln(self, x, p):
        m = x.mean(-1, keepdim=True)
        v = ((x - m) ** 2).mean(-1, keepdim=True)
        return (x - m) / torch.sqrt(v + self.eps) * self.W[p + ".weight"] + self.W[p + ".bias"]

    @staticmethod
    def gelu(x):
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

    def layer(self, x, l, r):
        W, T, H, d = self.W, x.shape[0], self.H, self.d
        hd, p = d // H, f"bert.encoder.layer.{l}."
        lin = lambda t, n: t @ r.W(W[p + n + ".weight"]).T + W[p + n + ".bias"]
        xa = r.A(x)
        q, k, v = (lin(xa, "attention.self." + n).view(T, H, hd).transpose(0, 1) for n in ("query", "key", "value"))
        ctx = r.A((r.P(torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), -1)) @ v).transpose(0, 1).reshape(T, d))
        x = r.S(self.ln(x + lin(ctx, "attention.output.dense"), p + "attention.output.LayerNorm"))
        a = r.A(self.gelu(r.O(lin(r.A(x), "intermediate.dense"))))
        return r.S(self.ln(x + lin(a, "output.dense"), p + "output.LayerNorm"))

    def run(self, ids, steps, r):
        e = "bert.embeddings."
        W = self.W
        x = W[e + "word_embeddings.weight"][ids] + W[e + "position_embeddings.weight"][:len(ids)]
        x = r.S(self.ln(x + W[e + "token_type_embeddings.weight"][0], e + "LayerNorm"))
        res = run_plan(x, steps, lambda h, l: self.layer(h, l, r))
        t = r.A(res[-1]) @ r.W(W["cls.predictions.transform.dense.weight"]).T + W["cls.predictions.transform.dense.bias"]
        return res, self.ln(self.gelu(t), "cls.predictions.transform.LayerNorm")


def run_plan(x, steps, layer):
    """The golden plans: a layer index, or {"parallel": [...], "iterations": K} (members on the
    same input, averaged, K rounds)."""
    res = []
    for s in steps:
        if isinstance(s, int):
            x = layer(x, s)
        else:
            for _ in range(s.get("iterations", 1)):
                x = sum(layer(x, l) for l in s["parallel"]) / len(s["parallel"])
        res.append(x)
    return res


def worst(model, golden, cases, r):
    w = 0.0
    for c in cases:
        res, final = model.run(golden[c["key"] + ".input_ids"].long(), c["steps"], r)
        for k in range(len(c["steps"])):
            w = max(w, rel(res[k], golden[f"{c['key']}.resid.{k + 1}"]))
        if final is not None:
            w = max(w, rel(final, golden[c["key"] + ".final_norm"]))
    return w


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
    settings = [
        ("none (float64: must print 0.0000)", ""),
        ("weights only", "W"),
        ("GEMM inputs only", "A"),
        ("weights + GEMM inputs", "WA"),
        ("+ up/QKV outputs (layerlab bf16)", "WAO"),
        ("+ residual, embeddings, P (as HF bf16)", "WAOSP"),
    ]
    print("max rel. error vs the float64 golden (tests/golden.h metric); bf16 rounding at:")
    print(f"| {'model':10} | {'rounded to bf16':38} | full plan | all plans |")
    print(f"|{'-' * 12}|{'-' * 40}|-----------|-----------|")
    for name, cls in (("llama-tiny", Llama), ("bert-tiny", Bert)):
        d = f"{shared}/golden/{name}"
        model = cls(d)
        golden = load_safetensors(d + "/golden.safetensors")
        cases = json.load(open(d + "/cases.json"))["cases"]
        full = [c for c in cases if c["key"].startswith("full.")]
        for label, points in settings:
            r = Rounding(points)
            print(f"| {name:10} | {label:38} | {worst(model, golden, full, r):9.4f} | "
                  f"{worst(model, golden, cases, r):9.4f} |", flush=True)


if __name__ == "__main__":
    main()
