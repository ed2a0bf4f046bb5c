// Hugging Face folder of an export: the uniform layout back to transformers' own tensor names
// and layouts (the inverse of family_llama.cpp / family_gpt2.cpp, all in hf_tensors below),
// config.json with the new layer count, and the tokenizer files.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/quantize.h"
#include "layerlab/safetensors.h"
#include "model/export_internal.h"

namespace layerlab::exporting {

namespace {

struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::function<std::vector<float>()> values;  // row-major, `shape`
};

// The inverse of the families' load mappings. Layer l of the export is source layer order[l].
std::vector<HfTensor> hf_tensors(const Model& m, const std::vector<int>& order) {
  const ModelConfig& c = m.config();
  const ModelWeights& w = m.weights();
  std::vector<HfTensor> t;
  auto vec = [&](const std::string& name, const Param& p) {
    t.push_back({name, {p.cols}, [&p] { return rows_f32(p, 0, 1); }});
  };
  auto mat = [&](const std::string& name, const Param& p, int64_t r0, int64_t n) {
    t.push_back({name, {n, p.cols}, [&p, r0, n] { return rows_f32(p, r0, n); }});
  };
  // GPT-2's Conv1D stores [in, out]: the transpose of the Linear [out, in] held here.
  auto conv1d = [&](const std::string& name, const Param& p) {
    t.push_back({name, {p.cols, p.rows}, [&p] {
                   const auto v = rows_f32(p, 0, p.rows);
                   std::vector<float> out(v.size());
                   for (int64_t r = 0; r < p.rows; ++r)
                     for (int64_t k = 0; k < p.cols; ++k) out[size_t(k * p.rows + r)] = v[size_t(r * p.cols + k)];
                   return out;
                 }});
  };
  // Values [c0, c0 + n) of a vector (BERT's stacked q|k|v bias).
  auto vslice = [&](const std::string& name, const Param& p, int64_t c0, int64_t n) {
    t.push_back({name, {n}, [&p, c0, n] {
                   const auto v = rows_f32(p, 0, 1);
                   return std::vector<float>(v.begin() + c0, v.begin() + c0 + n);
                 }});
  };
  const bool tied = head_is_embedding(m);
  if (c.family == "bert") {
    const int64_t d = c.d_model;
    const std::string e = "bert.embeddings.";
    mat(e + "word_embeddings.weight", w.tok_emb, 0, w.tok_emb.rows);
    mat(e + "position_embeddings.weight", w.pos_emb, 0, w.pos_emb.rows);
    mat(e + "token_type_embeddings.weight", w.type_emb, 0, w.type_emb.rows);
    vec(e + "LayerNorm.weight", w.emb_ln_w);
    vec(e + "LayerNorm.bias", w.emb_ln_b);
    for (size_t l = 0; l < order.size(); ++l) {
      const LayerWeights& L = w.layers[size_t(order[l])];
      const std::string h = "bert.encoder.layer." + std::to_string(l) + ".", a = h + "attention.";
      int64_t k = 0;
      for (const char* part : {"query", "key", "value"}) {
        mat(a + "self." + part + ".weight", L.qkv_w, k, d);
        vslice(a + "self." + part + ".bias", L.qkv_b, k, d);
        k += d;
      }
      mat(a + "output.dense.weight", L.o_w, 0, d);
      vec(a + "output.dense.bias", L.o_b);
      vec(a + "output.LayerNorm.weight", L.ln1_w);
      vec(a + "output.LayerNorm.bias", L.ln1_b);
      mat(h + "intermediate.dense.weight", L.up_w, 0, L.up_w.rows);
      vec(h + "intermediate.dense.bias", L.up_b);
      mat(h + "output.dense.weight", L.down_w, 0, d);
      vec(h + "output.dense.bias", L.down_b);
      vec(h + "output.LayerNorm.weight", L.ln2_w);
      vec(h + "output.LayerNorm.bias", L.ln2_b);
    }
    const std::string p = "cls.predictions.";
    mat(p + "transform.dense.weight", w.mlm_dense_w, 0, d);
    vec(p + "transform.dense.bias", w.mlm_dense_b);
    vec(p + "transform.LayerNorm.weight", w.final_w);
    vec(p + "transform.LayerNorm.bias", w.final_b);
    vec(p + "bias", w.head_b);
    if (!tied) mat(p + "decoder.weight", w.head_w, 0, w.head_w.rows);
    return t;
  }
  if (c.family == "llama") {
    const int64_t q = c.q_dim(), kv = c.kv_dim(), ff = c.d_ff;
    mat("model.embed_tokens.weight", w.tok_emb, 0, w.tok_emb.rows);
    for (size_t l = 0; l < order.size(); ++l) {
      const LayerWeights& L = w.layers[size_t(order[l])];
      const std::string h = "model.layers." + std::to_string(l) + ".";
      vec(h + "input_layernorm.weight", L.ln1_w);
      mat(h + "self_attn.q_proj.weight", L.qkv_w, 0, q);
      mat(h + "self_attn.k_proj.weight", L.qkv_w, q, kv);
      mat(h + "self_attn.v_proj.weight", L.qkv_w, q + kv, kv);
      mat(h + "self_attn.o_proj.weight", L.o_w, 0, L.o_w.rows);
      vec(h + "post_attention_layernorm.weight", L.ln2_w);
      mat(h + "mlp.gate_proj.weight", L.up_w, 0, ff);
      mat(h + "mlp.up_proj.weight", L.up_w, ff, ff);
      mat(h + "mlp.down_proj.weight", L.down_w, 0, L.down_w.rows);
    }
    vec("model.norm.weight", w.final_w);
  } else {  // gpt2
    mat("transformer.wte.weight", w.tok_emb, 0, w.tok_emb.rows);
    mat("transformer.wpe.weight", w.pos_emb, 0, w.pos_emb.rows);
    for (size_t l = 0; l < order.size(); ++l) {
      const LayerWeights& L = w.layers[size_t(order[l])];
      const std::string h = "transformer.h." + std::to_string(l) + ".";
      vec(h + "ln_1.weight", L.ln1_w);
      vec(h + "ln_1.bias", L.ln1_b);
      conv1d(h + "attn.c_attn.weight", L.qkv_w);
      vec(h + "attn.c_attn.bias", L.qkv_b);
      conv1d(h + "attn.c_proj.weight", L.o_w);
      vec(h + "attn.c_proj.bias", L.o_b);
      vec(h + "ln_2.weight", L.ln2_w);
      vec(h + "ln_2.bias", L.ln2_b);
      conv1d(h + "mlp.c_fc.weight", L.up_w);
      vec(h + "mlp.c_fc.bias", L.up_b);
      conv1d(h + "mlp.c_proj.weight", L.down_w);
      vec(h + "mlp.c_proj.bias", L.down_b);
    }
    vec("transformer.ln_f.weight", w.final_w);
    vec("transformer.ln_f.bias", w.final_b);
  }
  if (!tied) mat("lm_head.weight", w.head_w, 0, w.head_w.rows);
  return t;
}

const char* st_dtype(WeightType t) { return t == WeightType::F32 ? "F32" : t == WeightType::F16 ? "F16" : "BF16"; }
const char* torch_dtype(WeightType t) { return t == WeightType::F32 ? "float32" : t == WeightType::F16 ? "float16" : "bfloat16"; }

// model.safetensors, streamed tensor by tensor (the whole model is never held twice).
uint64_t write_safetensors_file(const std::string& path, const std::vector<HfTensor>& ts, WeightType dtype) {
  const int64_t elem = dtype == WeightType::F32 ? 4 : 2;
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& t : ts) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    header[t.name] = {{"dtype", st_dtype(dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + uint64_t(n * elem)}}};
    offset += uint64_t(n * elem);
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');  // data section 8-byte aligned, as safetensors pads
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, "cannot create file");
  const uint64_t hlen = h.size();
  out.write(reinterpret_cast<const char*>(&hlen), 8);
  out.write(h.data(), std::streamsize(h.size()));
  std::string bytes;
  for (const auto& t : ts) {
    const std::vector<float> v = t.values();
    bytes.resize(v.size() * size_t(elem));
    quantize_rows(dtype, v.data(), 1, int64_t(v.size()), bytes.data());
    out.write(bytes.data(), std::streamsize(bytes.size()));
  }
  out.close();
  if (!out) fail(path, "write failed (disk full?)");
  return 8 + hlen + offset;
}

// A float32 epsilon as the decimal it was written as (1e-05, not 9.999999747378752e-06).
double round7(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", double(v));
  return std::strtod(buf, nullptr);
}

// config.json for a model that came from a GGUF file (the fields the families read).
nlohmann::ordered_json config_from(const ModelConfig& c, int n_layer, bool tied) {
  nlohmann::ordered_json j;
  if (c.family == "llama") {
    j["architectures"] = {"LlamaForCausalLM"};
    j["model_type"] = "llama";
    j["hidden_size"] = c.d_model;
    j["intermediate_size"] = c.d_ff;
    j["num_attention_heads"] = c.n_head;
    j["num_key_value_heads"] = c.n_kv_head;
    j["head_dim"] = c.head_dim;
    j["num_hidden_layers"] = n_layer;
    j["hidden_act"] = "silu";
    j["rms_norm_eps"] = round7(c.norm_eps);
    j["rope_theta"] = c.rope.theta;
    if (c.rope.type == "linear") j["rope_scaling"] = {{"rope_type", "linear"}, {"type", "linear"}, {"factor", c.rope.factor}};
    j["max_position_embeddings"] = c.max_positions;
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
  } else {
    j["architectures"] = {"GPT2LMHeadModel"};
    j["model_type"] = "gpt2";
    j["n_embd"] = c.d_model;
    j["n_head"] = c.n_head;
    j["n_layer"] = n_layer;
    j["n_inner"] = c.d_ff;
    j["n_positions"] = c.max_positions;
    j["n_ctx"] = c.max_positions;
    j["layer_norm_epsilon"] = round7(c.norm_eps);
    j["activation_function"] = "gelu_new";
  }
  j["vocab_size"] = c.vocab;
  j["bos_token_id"] = c.bos_id;
  j["eos_token_id"] = c.eos_id;
  j["tie_word_embeddings"] = tied;
  return j;
}

// The folder's config.json with the new layer count (and per-layer lists in plan order).
nlohmann::ordered_json config_edited(const std::string& dir, const ModelConfig& c, const std::vector<int>& order) {
  const std::string path = dir + "/config.json";
  auto j = nlohmann::ordered_json::parse(read_text_file(path, 16 << 20));
  const int n = int(order.size());
  if (c.family == "gpt2") j["n_layer"] = n;
  if (c.family == "llama" || j.contains("num_hidden_layers")) j["num_hidden_layers"] = n;
  // Newer configs list a property per layer (e.g. layer_types): it follows its layer.
  for (auto& [key, v] : j.items())
    if (v.is_array() && v.size() == size_t(c.n_layer) && key == "layer_types") {
      nlohmann::ordered_json moved = nlohmann::ordered_json::array();
      for (int s : order) moved.push_back(v[size_t(s)]);
      v = moved;
    }
  return j;
}

// As stored: the matrices' one float type; f32 for block types or a mix.
WeightType folder_dtype(const Job& job) {
  if (!job.keep) return job.dtype;
  const ModelWeights& w = job.model.weights();
  std::vector<const Param*> ms = {&w.tok_emb, &w.head_w};
  for (const auto& L : w.layers) ms.insert(ms.end(), {&L.qkv_w, &L.o_w, &L.up_w, &L.down_w});
  const WeightType t = ms[0]->type;
  bool same = true, quantized = false;
  for (const Param* p : ms) same = same && p->type == t, quantized = quantized || is_quantized(p->type);
  if (same && !quantized) return t;
  if (quantized)
    job.result.notes.push_back("weights in llama.cpp block types are written as f32 (a Hugging Face folder holds f32, "
                               "f16 or bf16; --dtype f16 or bf16 for half the size)");
  return WeightType::F32;
}

}  // namespace

void write_hf_folder(const Job& job, const std::string& dir) {
  const Model& m = job.model;
  const ModelConfig& c = m.config();
  const WeightType dtype = folder_dtype(job);
  const auto tensors = hf_tensors(m, job.order);
  job.result.tensors = tensors.size();
  job.result.bytes = write_safetensors_file(dir + "/model.safetensors", tensors, dtype);
  const bool from_gguf = is_gguf_file(m.dir());
  auto cfg = from_gguf ? config_from(c, int(job.order.size()), head_is_embedding(m)) : config_edited(m.dir(), c, job.order);
  if (cfg.contains("dtype")) cfg["dtype"] = torch_dtype(dtype);
  else cfg["torch_dtype"] = torch_dtype(dtype);
  write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  if (from_gguf) {
    const GgufFile f(m.dir());
    gguf_tokenizer_files(f, dir, job.result);
    nlohmann::ordered_json gen = {{"bos_token_id", c.bos_id}, {"eos_token_id", c.eos_id}};
    write_file_atomic(dir + "/generation_config.json", gen.dump(2) + "\n");
    return;
  }
  // Tokenizer and generation files as they are (added_tokens.json, vocab.json, merges.txt and
  // vocab.txt hold tokenizers too).
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt"}) {
    const std::string src = m.dir() + "/" + name;
    if (file_exists(src)) std::filesystem::copy_file(src, dir + "/" + name);
  }
}

}  // namespace layerlab::exporting
