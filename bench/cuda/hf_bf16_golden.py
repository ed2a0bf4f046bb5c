#!/usr/bin/env python3
"""How far Hugging Face itself lands from the float64 golden references when it runs in bf16
(weights and activations bf16, on the GPU): the baseline for layerlab's bf16 tolerance.
Full-plan cases only (HF runs the plain model); same metric as tests/golden.h.

  python3 bench/cuda/hf_bf16_golden.py SHARED_DIR [MODEL ...]
"""
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM


def rel(got, ref):
    return float((got.double() - ref.double()).abs().max() / ref.double().abs().max())


def main():
    shared = sys.argv[1]
    models = sys.argv[2:] or ["gpt2-tiny", "llama-tiny", "bert-tiny"]
    for name in models:
        d = f"{shared}/golden/{name}"
        try:
            cases = json.load(open(f"{d}/cases.json"))["cases"]
        except FileNotFoundError:
            print(f"{name}: not present")
            continue
        g = load_file(f"{d}/golden.safetensors")
        cls = AutoModelForMaskedLM if name.startswith("bert") else AutoModelForCausalLM
        for dtype in (torch.bfloat16, torch.float16):
            m = cls.from_pretrained(d, dtype=dtype, attn_implementation="eager").cuda().eval()
            worst = {"resid": 0.0, "logits_last": 0.0}
            for c in cases:
                if not c["key"].startswith("full."):
                    continue
                ids = g[c["key"] + ".input_ids"].cuda()[None]
                with torch.inference_mode():
                    out = m(ids, output_hidden_states=True)
                hs = out.hidden_states
                n = len(c["steps"])
                # hidden_states[k] is the residual after layer k (the last one has the final norm
                # applied for GPT-2 / Llama, so it is left out)
                for k in range(1, n):
                    worst["resid"] = max(worst["resid"], rel(hs[k][0].float().cpu(), g[f"{c['key']}.resid.{k}"]))
                last = out.logits[0, -2:].float().cpu().reshape(-1)
                worst["logits_last"] = max(worst["logits_last"], rel(last, g[c["key"] + ".logits_last"].reshape(-1)))
            print(f"HF {name} {str(dtype).split('.')[-1]}: max rel error vs float64 golden (full plan): "
                  f"resid {worst['resid']:.4f}, logits_last {worst['logits_last']:.4f}", flush=True)
            del m


if __name__ == "__main__":
    main()
