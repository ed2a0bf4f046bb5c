#!/usr/bin/env python3
"""Replays the first fine-tuning steps of a `layerlab finetune --record-steps N` run in PyTorch
(Hugging Face BertForSequenceClassification), with the same initial head weights
(OUT/head_init.safetensors), the same batches, learning rates, clipping and AdamW, no dropout,
and prints both loss curves and their largest difference (issue 15's acceptance: 1e-4).

    layerlab finetune --model ../shared/golden/bert-tiny --task sst2 --data-dir ../shared/data/glue \
        --epochs 1 --batch 32 --lr 2e-5 --seed 1 --limit-train 640 --record-steps 20 --out runs/ft20
    python3 bench/glue/torch_reference.py --model ../shared/golden/bert-tiny --run runs/ft20

Needs torch, transformers and safetensors (the GPU machine has them; this one does not).
Head-only runs (--head-only) freeze the encoder here too (the pooler trains only when the
checkpoint has none, as layerlab does). Computes in float64 unless --float32.
"""
import argparse
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForSequenceClassification


def apply_plan(model, plan):
    """Runs the encoder's layers as the layer plan says: each step one layer, or a group whose
    members read the same input and are averaged, `iterations` times (layerlab's plans). A
    layer listed twice is the same module, so it gets both gradients."""
    n = len(model.bert.encoder.layer)
    if [s["layers"] for s in plan] == [[i] for i in range(n)] and all(s["iterations"] == 1 for s in plan):
        return  # the full model: Hugging Face's own encoder
    from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions as Output
    layers = model.bert.encoder.layer

    def run(layer, h, mask):
        out = layer(h, attention_mask=mask)
        return out[0] if isinstance(out, tuple) else out

    def forward(hidden_states, attention_mask=None, *args, **kwargs):
        h = hidden_states
        for s in plan:
            for _ in range(s["iterations"]):
                h = sum(run(layers[l], h, attention_mask) for l in s["layers"]) / len(s["layers"])
        return Output(last_hidden_state=h, past_key_values=None)

    model.bert.encoder.forward = forward


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="the BERT folder layerlab fine-tuned")
    ap.add_argument("--run", required=True, help="layerlab's --out folder (first_steps.json, head_init.safetensors)")
    ap.add_argument("--float32", action="store_true")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()

    rec = json.load(open(f"{a.run}/first_steps.json"))
    head = load_file(f"{a.run}/head_init.safetensors")
    num_labels = head["classifier.weight"].shape[0]
    cfg = BertConfig.from_pretrained(a.model)
    cfg.num_labels = num_labels
    cfg.problem_type = "regression" if num_labels == 1 else "single_label_classification"
    cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = 0.0
    cfg.classifier_dropout = 0.0
    model = BertForSequenceClassification.from_pretrained(a.model, config=cfg, attn_implementation="eager")
    ckpt_names = set(load_file(f"{a.model}/model.safetensors").keys())
    pooler_in_ckpt = "bert.pooler.dense.weight" in ckpt_names
    state = model.state_dict()
    for k, v in head.items():
        state[k].copy_(v)
    model.load_state_dict(state)
    if not a.float32:
        model = model.double()
    apply_plan(model, rec["plan"])
    model.train()  # dropout is 0: train mode changes nothing else

    trainable = []
    for name, p in model.named_parameters():
        frozen = rec["head_only"] and name.startswith("bert.") and not (name.startswith("bert.pooler.") and not pooler_in_ckpt)
        p.requires_grad_(not frozen)
        if not frozen:
            trainable.append((name, p))
    # The Hugging Face Trainer's groups: no decay on biases and LayerNorm weights.
    decay = [p for n, p in trainable if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    no_decay = [p for n, p in trainable if n.endswith("bias") or "LayerNorm.weight" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": rec["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=0.0, betas=(0.9, 0.999), eps=1e-8)

    dtype = torch.float32 if a.float32 else torch.float64
    worst = 0.0
    for s in rec["steps"]:
        ex = s["examples"]
        T = max(len(e["ids"]) for e in ex)
        ids = torch.zeros(len(ex), T, dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for i, e in enumerate(ex):
            n = len(e["ids"])
            ids[i, :n] = torch.tensor(e["ids"])
            types[i, :n] = torch.tensor(e["types"])
            mask[i, :n] = 1
        labels = (torch.tensor([e["target"] for e in ex], dtype=dtype) if num_labels == 1
                  else torch.tensor([e["label"] for e in ex]))
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        if rec["clip"] > 0:
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], rec["clip"])
        for g in opt.param_groups:
            g["lr"] = s["lr"]
        opt.step()
        loss = out.loss.item()
        diff = abs(loss - s["loss"])
        worst = max(worst, diff)
        print(f"step {s['step']} loss {loss:.9f}  layerlab {s['loss']:.9f}  diff {diff:.2e}")
    print(f"max |torch - layerlab| over {len(rec['steps'])} steps: {worst:.3e} (tolerance {a.tolerance:g})")
    sys.exit(0 if worst <= a.tolerance else 1)


if __name__ == "__main__":
    main()
