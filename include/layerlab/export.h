#pragma once
// Exporting a layer plan as a model of its own (layerlab export / convert): the plan's
// sequential steps become the layers of a new Hugging Face folder or GGUF file, in order (a
// layer used twice is written twice), with everything else (config, embeddings, final norm,
// head, tokenizer) carried over. Families: llama and gpt2. Tensor names and layouts are those
// of Hugging Face transformers (safetensors) and of llama.cpp's convert_hf_to_gguf.py (GGUF).
#include <cstdint>
#include <string>
#include <vector>

#include "layerlab/model.h"
#include "layerlab/plan.h"

namespace layerlab {

struct ExportOptions {
  std::string format = "hf";  // hf (config.json + model.safetensors + tokenizer files) | gguf
  // Weight type of the matrices: f32, f16, bf16 (hf and gguf) or q8_0, q4_0, q4_K, q5_K, q6_K
  // (gguf). Empty: as stored (hf: the model's float type, f32 for quantized weights; gguf: each
  // tensor in its stored type). Vectors (norms, biases) and GPT-2's position table stay f32 in
  // GGUF files, as llama.cpp's converter writes them.
  std::string dtype;
  bool force = false;  // replace an existing output
};

struct ExportResult {
  std::string path;
  int n_layer = 0;
  size_t tensors = 0;
  uint64_t bytes = 0;               // size of the weights file
  std::vector<std::string> notes;   // fallbacks and omissions worth telling the user
};

// The source layer of each exported layer: the plan's steps in order. A parallel group or a
// loop has no single layer to write and is refused (OptionError "plan", naming the step).
std::vector<int> export_layer_order(const Plan& plan);

// Writes the model under `plan` to `out` (a folder for hf, a file for gguf) through a temporary
// path and a rename, so an interrupted export leaves nothing half-written. An existing `out`
// is refused unless options.force. convert = export_plan with full_plan.
ExportResult export_plan(const Model& model, const Plan& plan, const std::string& out, const ExportOptions& options);

}  // namespace layerlab
