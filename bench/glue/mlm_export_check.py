#!/usr/bin/env python3
"""Loads a folder written by `layerlab train --objective mlm` with Hugging Face transformers
(BertForMaskedLM, float64) and compares its masked-LM logits with layerlab's own forward pass
(`layerlab forward --model DIR --ids ... --dump FILE`): the largest |logit difference|, and
the argmax agreement per position.

    python3 bench/glue/mlm_export_check.py --model runs/mlm --dump runs/mlm_dump.safetensors
"""
import argparse

import torch
from safetensors.torch import load_file
from transformers import BertForMaskedLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dump", required=True)
    a = ap.parse_args()
    dump = load_file(a.dump)
    ids = dump["input_ids"].long().reshape(1, -1)
    ours = dump["logits"].double().reshape(ids.shape[1], -1)
    model = BertForMaskedLM.from_pretrained(a.model, torch_dtype=torch.float64).eval()
    with torch.no_grad():
        hf = model(input_ids=ids, token_type_ids=torch.zeros_like(ids)).logits[0]
    diff = (hf - ours).abs().max().item()
    agree = (hf.argmax(-1) == ours.argmax(-1)).float().mean().item()
    print(f"tokens {ids.shape[1]}, vocab {hf.shape[1]}: max |logit difference| {diff:.3e}, "
          f"logit range [{hf.min().item():.3f}, {hf.max().item():.3f}], argmax agreement {agree:.3f}")


if __name__ == "__main__":
    main()
