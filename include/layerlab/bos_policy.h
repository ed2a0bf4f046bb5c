#pragma once
// Whether text gets a BOS token first: one policy per model, taken from the tokenizer's own
// setting, so forward, generate, similarity, eval and sweep read a text the same way
// (docs/EVAL.md "BOS"). lm-eval's HF model does the same since its add_bos_token default
// became None ("delegate BOS to the tokenizer", lm-evaluation-harness PR 3347).
#include <string>

#include "layerlab/tokenizer.h"

namespace layerlab {

struct BosPolicy {
  bool add = false;
  std::string source;  // where the choice comes from, for `layerlab info`
};
// In order: tokenizer_config.json `add_bos_token` (a model folder); then, for a byte-level
// BPE tokenizer.json, its post_processor template (Llama 3 adds BOS only there); a GGUF file's
// `tokenizer.ggml.add_bos_token`; else the tokenizer family's default (Llama's SentencePiece
// tokenizer: true, as LlamaTokenizer and llama.cpp; GPT-2's byte-level BPE: false, as
// GPT2Tokenizer; BERT: none, [CLS] starts its inputs). A tokenizer without a BOS token never
// adds one. An `add_bos_token` that is not true / false / null is an Error naming the file.
BosPolicy bos_policy(const std::string& model_path, const Tokenizer& tok);

}  // namespace layerlab
