#pragma once
// Masked-LM pretraining of a BERT-shaped encoder from scratch on the CPU (docs/GLUE.md,
// "Masked-LM pretraining"): the fine-tuning encoder's forward and backward (all layers, in
// order) under BertForMaskedLM's head, BERT's masking (15% chosen; 80% [MASK], 10% random,
// 10% kept; loss on the chosen tokens), AdamW with linear warm-up and decay; the result is a
// Hugging Face BertForMaskedLM folder (config.json, model.safetensors, vocab.txt) that
// load_model reads.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace layerlab::finetune {

struct MlmOptions {
  int n_layer = 2, d_model = 128, n_head = 2, d_ff = 0;  // d_ff 0: 4 x d_model
  int context = 128;          // tokens per window, [CLS] and [SEP] included (= max_position_embeddings)
  std::string data;           // text: .jsonl with "text", or plain lines
  std::string tokenizer_dir;  // a WordPiece vocab.txt with [CLS], [SEP], [MASK]
  std::string out_dir;        // the BertForMaskedLM folder (created)
  int steps = 100, batch = 8;
  int warmup = -1;           // linear warm-up steps; -1: 10% of the steps
  double lr = 1e-4, weight_decay = 0.01, clip = 1.0, mask_rate = 0.15;
  double init_std = 0.02;     // BERT's initializer_range
  uint64_t seed = 42;
  int log_every = 0;
};

// Trains and writes the folder; returns {"losses": per step, "windows", "params", ...}.
nlohmann::json pretrain_mlm(const MlmOptions& o);

}  // namespace layerlab::finetune
