// Saving trained weights for inference: preln as a Hugging Face GPT-2 folder (readable by
// transformers and by layerlab's load_model unchanged), other blocks in layerlab's own names.
#include <sys/stat.h>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/safetensors.h"
#include "layerlab/train.h"

namespace layerlab::train {

namespace {

void make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && !is_directory(dir)) fail(dir, "cannot create directory");
}

std::vector<float> slice(const Transformer<float>& m, const TensorSpec& t) {
  const float* p = m.params().data() + t.offset;
  return std::vector<float>(p, p + t.numel);
}

// [rows, cols] (Linear) -> [cols, rows] (GPT-2 Conv1D).
std::vector<float> transposed(const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<float> out(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = w[r * cols + c];
  return out;
}

}  // namespace

void export_model(const Transformer<float>& m, const std::string& dir) {
  make_dir(dir);
  const ModelShape& s = m.shape();
  std::vector<OutTensor> out;
  if (s.block == BlockKind::PreLN) {
    for (const TensorSpec& t : m.layout()) {
      OutTensor o;
      o.name = "transformer." + t.name + (t.embedding ? ".weight" : "");  // wte.weight, wpe.weight
      const bool conv1d = t.matrix;  // c_attn, c_proj, c_fc, mlp.c_proj: stored [in, out]
      o.f32 = conv1d ? transposed(slice(m, t), t.shape[0], t.shape[1]) : slice(m, t);
      o.shape = conv1d ? std::vector<int64_t>{t.shape[1], t.shape[0]} : t.shape;
      out.push_back(std::move(o));
    }
    write_safetensors(dir + "/model.safetensors", out, {{"format", "pt"}});
    nlohmann::json cfg = {{"architectures", {"GPT2LMHeadModel"}},
                          {"model_type", "gpt2"},
                          {"vocab_size", s.vocab},
                          {"n_positions", s.context},
                          {"n_ctx", s.context},
                          {"n_embd", s.d_model},
                          {"n_layer", s.n_layer},
                          {"n_head", s.n_head},
                          {"n_inner", s.ff()},
                          {"activation_function", "gelu_new"},
                          {"layer_norm_epsilon", s.norm_eps},
                          {"initializer_range", 0.02},
                          {"resid_pdrop", 0.0},
                          {"embd_pdrop", 0.0},
                          {"attn_pdrop", 0.0},
                          {"tie_word_embeddings", true},
                          {"bos_token_id", 50256},
                          {"eos_token_id", 50256},
                          {"torch_dtype", "float32"}};
    write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  } else {
    for (const TensorSpec& t : m.layout()) {
      OutTensor o;
      o.name = t.name;
      o.shape = t.shape;
      o.f32 = slice(m, t);
      out.push_back(std::move(o));
    }
    write_safetensors(dir + "/model.safetensors", out, {{"format", "layerlab-train"}});
    nlohmann::json cfg = s.to_json();
    cfg["format"] = "layerlab-train";
    cfg["note"] = "weights in Linear layout [out, in]; block definitions in docs/TRAINING.md";
    write_file_atomic(dir + "/layerlab_config.json", cfg.dump(2) + "\n");
  }
}

}  // namespace layerlab::train
