#!/usr/bin/env python3
"""Do Hugging Face transformers load layerlab's plan exports, and do they compute the plan?

Independent of layerlab's forward pass: the ORIGINAL folder is loaded with transformers, its
decoder layers are rearranged in PyTorch as the plan says (a layer listed twice is the same
module twice), and its logits are compared with those of the EXPORTED folder, loaded by
transformers like any model. Run where torch + transformers are (the GPU machine):

    python3 bench/export/check_transformers.py ORIGINAL_DIR EXPORT_DIR "0-2,2,1,4-5" [more triples...]

Prints one line per pair: max |logit difference| / max |logit| and PASS below 1e-5 (float32).
"""
import sys

import torch
from transformers import AutoModelForCausalLM


def layer_order(text):
    order = []
    for part in text.split(","):
        if "-" in part:
            a, b = (int(x) for x in part.split("-"))
            order += list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
        else:
            order.append(int(part))
    return order


def layers_of(model):
    if hasattr(model, "model") and hasattr(model.model, "layers"):  # llama
        return model.model, "layers"
    return model.transformer, "h"  # gpt2


def main(argv):
    if len(argv) < 3 or len(argv) % 3:
        sys.exit(__doc__)
    torch.manual_seed(0)
    ok = True
    for i in range(0, len(argv), 3):
        orig_dir, export_dir, plan = argv[i:i + 3]
        orig = AutoModelForCausalLM.from_pretrained(orig_dir, torch_dtype=torch.float32).eval()
        exp = AutoModelForCausalLM.from_pretrained(export_dir, torch_dtype=torch.float32).eval()
        order = layer_order(plan)
        owner, name = layers_of(orig)
        layers = getattr(owner, name)
        setattr(owner, name, torch.nn.ModuleList([layers[j] for j in order]))
        orig.config.num_hidden_layers = len(order)
        for idx, layer in enumerate(getattr(owner, name)):  # the cache index each position uses
            if hasattr(layer, "self_attn"):
                layer.self_attn.layer_idx = idx
        assert exp.config.num_hidden_layers == len(order), (exp.config.num_hidden_layers, len(order))
        ids = torch.randint(3, min(orig.config.vocab_size, 5000), (2, 24))
        with torch.no_grad():
            a = orig(ids, use_cache=False).logits
            b = exp(ids, use_cache=False).logits
        rel = ((a - b).abs().max() / a.abs().max()).item()
        good = rel < 1e-5
        ok = ok and good
        print(f"{'PASS' if good else 'FAIL'} {export_dir}: plan {plan} ({len(order)} layers), "
              f"max |diff| / max |logit| = {rel:.3g}, transformers loaded {type(exp).__name__}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
