// load_model on a GGUF file: <arch>.* metadata -> ModelConfig, llama.cpp tensor names ->
// the uniform layout (llama-arch.cpp: token_embd, blk.N.attn_q ..., output_norm, output).
#include <cmath>
#include <map>

#include "layerlab/error.h"
#include "layerlab/gguf.h"
#include "model/config_reader.h"
#include "model/gguf_weights.h"
#include "util/json_read.h"

namespace layerlab {

namespace {

int size_key(const GgufFile& f, const std::string& key) { return int(f.get_int(key, 1, kMaxConfigInt)); }
int size_key_or(const GgufFile& f, const std::string& key, int fallback) {
  return int(f.get_int_or(key, fallback, 1, kMaxConfigInt));
}

// The vocabulary: <arch>.vocab_size, else the tokenizer's token list, else token_embd's rows.
int vocab_size(const GgufFile& f, const std::string& arch) {
  if (f.has(arch + ".vocab_size")) return size_key(f, arch + ".vocab_size");
  if (f.has("tokenizer.ggml.tokens")) {
    const size_t n = f.get_strings("tokenizer.ggml.tokens").size();
    if (n < 1 || n > size_t(kMaxConfigInt)) f.bad("tokenizer.ggml.tokens", std::to_string(n) + " tokens");
    return int(n);
  }
  const GgufTensor& t = f.get("token_embd.weight");
  if (t.dims.size() != 2 || t.dims[1] > kMaxConfigInt) fail(f.path(), "tensor 'token_embd.weight' is not [d, vocab]");
  return int(t.dims[1]);
}

void parse_rope(const GgufFile& f, const std::string& a, RopeConfig& r) {
  r.theta = f.get_float_or(a + ".rope.freq_base", 10000.0);
  const std::string type = f.get_string_or(a + ".rope.scaling.type", f.has(a + ".rope.scale_linear") ? "linear" : "none");
  if (type == "linear") {
    r.type = "linear";
    r.factor = f.has(a + ".rope.scaling.factor") ? f.get_float(a + ".rope.scaling.factor")
                                                 : f.get_float(a + ".rope.scale_linear");
  } else if (type != "none") {
    f.bad(a + ".rope.scaling.type", "unsupported RoPE scaling '" + clip(type) + "' (supported: none, linear)");
  }
  // Llama 3.1's RoPE is written by the converter as per-frequency factors, not as parameters.
  if (f.find("rope_freqs.weight"))
    fail(f.path(), "tensor 'rope_freqs.weight' (Llama 3.1-style RoPE frequency factors) is not supported yet");
  if (!(r.theta > 0)) f.bad(a + ".rope.freq_base", "must be a positive number");
  if (!(r.factor > 0)) f.bad(a + ".rope.scaling.factor", "must be a positive number");
}

void parse_llama(const GgufFile& f, ModelConfig& c) {
  c.family = "llama";
  c.n_layer = size_key(f, "llama.block_count");
  c.d_model = size_key(f, "llama.embedding_length");
  c.n_head = size_key(f, "llama.attention.head_count");
  c.n_kv_head = size_key_or(f, "llama.attention.head_count_kv", c.n_head);
  c.head_dim = size_key_or(f, "llama.attention.key_length", c.d_model / c.n_head);
  if (size_key_or(f, "llama.attention.value_length", c.head_dim) != c.head_dim)
    f.bad("llama.attention.value_length", "must equal key_length (" + std::to_string(c.head_dim) + ")");
  if (size_key_or(f, "llama.rope.dimension_count", c.head_dim) != c.head_dim)
    f.bad("llama.rope.dimension_count", "partial RoPE is not supported: must equal the head size " +
                                            std::to_string(c.head_dim));
  if (f.get_int_or("llama.expert_count", 0, 0, kMaxConfigInt) > 0)
    f.bad("llama.expert_count", "mixture-of-experts models are not supported");
  c.d_ff = size_key(f, "llama.feed_forward_length");
  c.vocab = vocab_size(f, "llama");
  c.max_positions = size_key_or(f, "llama.context_length", 2048);
  c.norm = NormKind::RMSNorm;
  c.norm_eps = float(f.get_float_or("llama.attention.layer_norm_rms_epsilon", 1e-5));
  c.act = Activation::SiluGated;
  c.positions = Positions::Rope;
  parse_rope(f, "llama", c.rope);
  c.causal = true;
  c.tied_head = f.find("output.weight") == nullptr;
  c.bos_id = int(f.get_int_or("tokenizer.ggml.bos_token_id", 1, 0, kMaxConfigInt));
  c.eos_id = int(f.get_int_or("tokenizer.ggml.eos_token_id", 2, 0, kMaxConfigInt));
}

void parse_gpt2(const GgufFile& f, ModelConfig& c) {
  c.family = "gpt2";
  c.n_layer = size_key(f, "gpt2.block_count");
  c.d_model = size_key(f, "gpt2.embedding_length");
  c.n_head = size_key(f, "gpt2.attention.head_count");
  c.n_kv_head = c.n_head;
  c.head_dim = c.d_model / c.n_head;
  c.d_ff = size_key_or(f, "gpt2.feed_forward_length", 4 * c.d_model);
  c.vocab = vocab_size(f, "gpt2");
  c.max_positions = size_key(f, "gpt2.context_length");
  c.norm = NormKind::LayerNorm;
  c.norm_eps = float(f.get_float_or("gpt2.attention.layer_norm_epsilon", 1e-5));
  c.act = Activation::GeluTanh;  // gelu_new, as llama.cpp runs GPT-2
  c.positions = Positions::Learned;
  c.causal = true;
  c.tied_head = f.find("output.weight") == nullptr;
  c.bos_id = int(f.get_int_or("tokenizer.ggml.bos_token_id", 50256, 0, kMaxConfigInt));
  c.eos_id = int(f.get_int_or("tokenizer.ggml.eos_token_id", 50256, 0, kMaxConfigInt));
}

// The checks of validate_config (load.cpp), naming GGUF keys.
void validate(const GgufFile& f, const std::string& a, const ModelConfig& c) {
  if (c.n_head % c.n_kv_head != 0)
    f.bad(a + ".attention.head_count_kv", "must divide head_count (" + std::to_string(c.n_head) + ")");
  if (c.family == "gpt2" && c.n_head * c.head_dim != c.d_model)
    f.bad(a + ".attention.head_count", "must divide the embedding length " + std::to_string(c.d_model));
  if (c.positions == Positions::Rope && c.head_dim % 2 != 0) f.bad(a + ".attention.key_length", "RoPE needs an even head size");
  const char* eps_key = c.family == "llama" ? ".attention.layer_norm_rms_epsilon" : ".attention.layer_norm_epsilon";
  if (!(c.norm_eps > 0)) f.bad(a + eps_key, "must be positive");
  const int64_t q = int64_t(c.n_head) * c.head_dim;
  if (q > kMaxConfigInt || c.d_ff > kMaxConfigInt / 2)
    f.bad(a + ".attention.head_count", "heads x head size or the MLP width is beyond " + std::to_string(kMaxConfigInt));
  for (auto [id, key] : {std::pair{c.bos_id, "tokenizer.ggml.bos_token_id"}, std::pair{c.eos_id, "tokenizer.ggml.eos_token_id"}})
    if (id >= c.vocab) f.bad(key, "token " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(c.vocab));
  // More blocks in the file than the metadata says would run a truncated model without a word.
  for (const auto& t : f.tensors())
    if (t.name.rfind("blk.", 0) == 0) {
      const long n = std::strtol(t.name.c_str() + 4, nullptr, 10);
      if (n >= c.n_layer)
        fail(f.path(), "tensor '" + clip(t.name) + "' belongs to block " + std::to_string(n) + " but " + a +
                           ".block_count is " + std::to_string(c.n_layer));
    }
}

void load_llama(GgufWeights& w, const ModelConfig& c, ModelWeights& out) {
  const int64_t d = c.d_model, ff = c.d_ff, q = c.q_dim(), kv = c.kv_dim();
  out.tok_emb = w.matrix("token_embd.weight", c.vocab, d);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1_w = w.vector(b + "attn_norm.weight", d);
    L.qkv_w = w.stacked({{b + "attn_q.weight", q, c.n_head}, {b + "attn_k.weight", kv, c.n_kv_head},
                         {b + "attn_v.weight", kv}},
                        d);
    L.o_w = w.matrix(b + "attn_output.weight", d, q);
    L.ln2_w = w.vector(b + "ffn_norm.weight", d);
    L.up_w = w.stacked({{b + "ffn_gate.weight", ff}, {b + "ffn_up.weight", ff}}, d);
    L.down_w = w.matrix(b + "ffn_down.weight", d, ff);
    out.layers.push_back(L);
  }
  out.final_w = w.vector("output_norm.weight", d);
  out.head_w = c.tied_head ? out.tok_emb : w.matrix("output.weight", c.vocab, d);
}

// convert_hf_to_gguf.py's GPT2Model transposes the Conv1D weights into [out, in], so they are
// stored as ggml [in, out]: the Linear layout, no transpose here.
void load_gpt2(GgufWeights& w, const ModelConfig& c, ModelWeights& out) {
  const int64_t d = c.d_model, ff = c.d_ff;
  out.tok_emb = w.matrix("token_embd.weight", c.vocab, d);
  out.pos_emb = w.matrix_f32("position_embd.weight", c.max_positions, d);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1_w = w.vector(b + "attn_norm.weight", d);
    L.ln1_b = w.vector(b + "attn_norm.bias", d);
    L.qkv_w = w.matrix(b + "attn_qkv.weight", 3 * d, d);
    L.qkv_b = w.vector(b + "attn_qkv.bias", 3 * d);
    L.o_w = w.matrix(b + "attn_output.weight", d, d);
    L.o_b = w.vector(b + "attn_output.bias", d);
    L.ln2_w = w.vector(b + "ffn_norm.weight", d);
    L.ln2_b = w.vector(b + "ffn_norm.bias", d);
    L.up_w = w.matrix(b + "ffn_up.weight", ff, d);
    L.up_b = w.vector(b + "ffn_up.bias", ff);
    L.down_w = w.matrix(b + "ffn_down.weight", d, ff);
    L.down_b = w.vector(b + "ffn_down.bias", d);
    out.layers.push_back(L);
  }
  out.final_w = w.vector("output_norm.weight", d);
  out.final_b = w.vector("output_norm.bias", d);
  out.head_w = c.tied_head ? out.tok_emb : w.matrix("output.weight", c.vocab, d);
}

// llama.cpp's llama_ftype names (general.file_type), else the most common matrix type.
std::string file_type(const GgufFile& f) {
  static const std::map<int64_t, const char*> names = {
      {0, "f32"},    {1, "f16"},     {2, "q4_0"},    {3, "q4_1"},    {7, "q8_0"},    {8, "q5_0"},
      {9, "q5_1"},   {10, "q2_K"},   {11, "q3_K_S"}, {12, "q3_K_M"}, {13, "q3_K_L"}, {14, "q4_K_S"},
      {15, "q4_K_M"}, {16, "q5_K_S"}, {17, "q5_K_M"}, {18, "q6_K"},  {32, "bf16"}};
  std::map<std::string, int> counts;
  for (const auto& t : f.tensors()) counts[weight_type_name(t.type)]++;
  std::string mix;
  for (const auto& [name, n] : counts) mix += (mix.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  std::string name;
  if (f.has("general.file_type")) {
    const int64_t ft = f.get_int("general.file_type", 0, INT32_MAX);
    auto it = names.find(ft);
    name = it != names.end() ? it->second : "file type " + std::to_string(ft);
  }
  if (name.empty()) {
    int best = 0;
    for (const auto& t : f.tensors())
      if (t.dims.size() == 2 && counts[weight_type_name(t.type)] > best)
        best = counts[weight_type_name(t.type)], name = weight_type_name(t.type);
  }
  return "gguf " + name + " (tensors: " + mix + ")";
}

}  // namespace

namespace detail {

void load_gguf_model(const std::string& path, Model& m) {
  const GgufFile f(path);
  const std::string arch = f.get_string("general.architecture");
  ModelConfig& c = m.config_;
  c.model_type = arch;
  if (arch == "llama")
    parse_llama(f, c);
  else if (arch == "gpt2")
    parse_gpt2(f, c);
  else
    f.bad("general.architecture", "unsupported architecture '" + clip(arch) + "' (supported: llama, gpt2)");
  validate(f, arch, c);
  GgufWeights w(f, m);
  if (arch == "llama")
    load_llama(w, c, m.weights_);
  else
    load_gpt2(w, c, m.weights_);
  c.weight_dtype = file_type(f);
  m.dir_ = path;
  m.files_ = {{path, f.file_size()}};
  for (const auto& t : f.tensors()) m.parameter_count_ += t.numel();
  m.resident_bytes_ += w.mapped_bytes();
  for (int t = 0; t < 8; ++t) m.type_values_[t] += w.mapped_values(WeightType(t));
  m.mapping_ = f.mapping();
}

}  // namespace detail

}  // namespace layerlab
