#pragma once
// Shared by the export writers (export.cpp, export_hf.cpp, export_gguf.cpp, export_tokenizer.cpp).
#include <string>
#include <utility>
#include <vector>

#include "layerlab/export.h"
#include "layerlab/gguf.h"

namespace layerlab::exporting {

using GgufMeta = std::vector<std::pair<std::string, GgufOutValue>>;

// What a writer needs: the model, the source layer of each output layer, the target type
// (`keep`: as stored), and the result to report into.
struct Job {
  const Model& model;
  std::vector<int> order;
  bool keep = true;
  WeightType dtype = WeightType::F32;
  ExportResult& result;
};

// Rows [r0, r0 + n) of p as float32, whatever its stored type.
std::vector<float> rows_f32(const Param& p, int64_t r0, int64_t n);
// True when the head is the embedding table (tied, or a GGUF copy of it: llama.cpp's GPT-2).
bool head_is_embedding(const Model& m);

// A Hugging Face folder (config.json, model.safetensors, tokenizer files) in `dir` (exists, empty).
void write_hf_folder(const Job& job, const std::string& dir);
// A GGUF file at `path`.
void write_gguf_file(const Job& job, const std::string& path);

// tokenizer.ggml.* from a Hugging Face folder's tokenizer files (tokenizer.model, or
// vocab.json + merges.txt, or tokenizer.json); a note when there is none.
void hf_tokenizer_metadata(const std::string& dir, const ModelConfig& c, GgufMeta& meta, ExportResult& r);
// Tokenizer files for a folder from a GGUF file's tokenizer.ggml.* (tokenizer.model or
// vocab.json + merges.txt).
void gguf_tokenizer_files(const GgufFile& f, const std::string& dir, ExportResult& r);

}  // namespace layerlab::exporting
