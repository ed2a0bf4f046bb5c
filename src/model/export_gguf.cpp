// GGUF file of an export, laid out as llama.cpp's convert_hf_to_gguf.py writes it: llama.cpp's
// tensor names (the inverse of gguf_model.cpp), attn_q / attn_k rows permuted for RoPE, vectors
// and GPT-2's position table in f32, block types through quantize_rows with llama.cpp's f16
// fallback for rows that are not whole blocks; metadata carried from a GGUF source or made
// from the Hugging Face config and tokenizer as the converter does.
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "layerlab/error.h"
#include "layerlab/quantize.h"
#include "model/export_internal.h"
#include "model/gguf_weights.h"

namespace layerlab::exporting {

namespace {

// One output tensor: rows [r0, r0 + n) of a Param of the uniform layout.
struct Part {
  std::string name;
  const Param* p;
  int64_t r0, n;
  int heads = 0;          // > 0: RoPE-permute the rows within each of `heads` heads
  bool f32 = false;       // always f32 (vectors, position tables)
  bool vector = false;    // ggml dims [n] rather than [cols, rows]
};

// The inverse of gguf_model.cpp's load_llama / load_gpt2; order as the converter's (sorted HF names).
std::vector<Part> gguf_parts(const Model& m, const std::vector<int>& order) {
  const ModelConfig& c = m.config();
  const ModelWeights& w = m.weights();
  std::vector<Part> t;
  auto vec = [&](const std::string& name, const Param& p) { t.push_back({name, &p, 0, 1, 0, true, true}); };
  auto mat = [&](const std::string& name, const Param& p, int64_t r0 = 0, int64_t n = -1, int heads = 0) {
    t.push_back({name, &p, r0, n < 0 ? p.rows : n, heads});
  };
  const bool tied = head_is_embedding(m);
  if (c.family == "llama") {
    const int64_t q = c.q_dim(), kv = c.kv_dim(), ff = c.d_ff;
    if (!tied) mat("output.weight", w.head_w);
    mat("token_embd.weight", w.tok_emb);
    for (size_t l = 0; l < order.size(); ++l) {
      const LayerWeights& L = w.layers[size_t(order[l])];
      const std::string b = "blk." + std::to_string(l) + ".";
      vec(b + "attn_norm.weight", L.ln1_w);
      mat(b + "ffn_down.weight", L.down_w);
      mat(b + "ffn_gate.weight", L.up_w, 0, ff);
      mat(b + "ffn_up.weight", L.up_w, ff, ff);
      vec(b + "ffn_norm.weight", L.ln2_w);
      mat(b + "attn_k.weight", L.qkv_w, q, kv, c.n_kv_head);
      mat(b + "attn_output.weight", L.o_w);
      mat(b + "attn_q.weight", L.qkv_w, 0, q, c.n_head);
      mat(b + "attn_v.weight", L.qkv_w, q + kv, kv);
    }
    vec("output_norm.weight", w.final_w);
  } else {  // gpt2: the converter writes output.weight as a copy of token_embd even when tied
    mat("token_embd.weight", w.tok_emb);
    t.push_back({"position_embd.weight", &w.pos_emb, 0, w.pos_emb.rows, 0, true});
    mat("output.weight", w.head_w);
    for (size_t l = 0; l < order.size(); ++l) {
      const LayerWeights& L = w.layers[size_t(order[l])];
      const std::string b = "blk." + std::to_string(l) + ".";
      vec(b + "attn_norm.weight", L.ln1_w);
      vec(b + "attn_norm.bias", L.ln1_b);
      mat(b + "attn_qkv.weight", L.qkv_w);
      vec(b + "attn_qkv.bias", L.qkv_b);
      mat(b + "attn_output.weight", L.o_w);
      vec(b + "attn_output.bias", L.o_b);
      vec(b + "ffn_norm.weight", L.ln2_w);
      vec(b + "ffn_norm.bias", L.ln2_b);
      mat(b + "ffn_up.weight", L.up_w);
      vec(b + "ffn_up.bias", L.up_b);
      mat(b + "ffn_down.weight", L.down_w);
      vec(b + "ffn_down.bias", L.down_b);
    }
    vec("output_norm.weight", w.final_w);
    vec("output_norm.bias", w.final_b);
  }
  return t;
}

// The part's rows in `type`, rows permuted for RoPE where asked.
std::string part_bytes(const Part& t, WeightType type) {
  const Param& p = *t.p;
  const int64_t rb = row_bytes(type, p.cols, t.name);
  std::string rows(size_t(t.n * rb), '\0');
  if (type == p.type) {
    std::memcpy(rows.data(), p.row_ptr(t.r0), rows.size());
  } else {
    const auto v = rows_f32(p, t.r0, t.n);
    quantize_rows(type, v.data(), t.n, p.cols, rows.data());
  }
  if (t.heads == 0) return rows;
  // gguf_unpermuted_row maps an HF row to its row in the file: the converter's `permute`.
  const int64_t hd = t.n / t.heads;
  std::string out(rows.size(), '\0');
  for (int64_t r = 0; r < t.n; ++r)
    std::memcpy(out.data() + gguf_unpermuted_row(r, hd) * rb, rows.data() + r * rb, size_t(rb));
  return out;
}

uint32_t file_type_id(WeightType t) {
  switch (t) {
    case WeightType::F32: return 0;
    case WeightType::F16: return 1;
    case WeightType::Q4_0: return 2;
    case WeightType::Q8_0: return 7;
    case WeightType::Q4_K: return 14;  // LLAMA_FTYPE_MOSTLY_Q4_K_S
    case WeightType::Q5_K: return 16;  // Q5_K_S
    case WeightType::Q6_K: return 18;
    case WeightType::BF16: return 32;
  }
  return 0;
}

// gguf-py's model_weight_count_rounded_notation: 3224688 -> "3.2M", 28012288 -> "28M".
std::string size_label(int64_t n) {
  double v = n * 1e-3;
  const char* suffix = "K";
  if (n > 1e12) v = n * 1e-12, suffix = "T";
  else if (n > 1e9) v = n * 1e-9, suffix = "B";
  else if (n > 1e6) v = n * 1e-6, suffix = "M";
  const int digits = int(std::to_string(std::llround(v)).size());
  const int fix = std::max(2 - digits, 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", fix, v, suffix);
  return buf;
}

// "llama-tiny" -> "Llama Tiny", as the converter names a model after its folder.
std::string model_name(const std::string& dir) {
  std::string base = std::filesystem::path(dir).filename().string(), out;
  if (base.empty()) base = std::filesystem::path(dir).parent_path().filename().string();
  bool start = true;
  for (char ch : base) {
    if (ch == '-' || ch == '_') ch = ' ';
    out += start ? char(std::toupper(static_cast<unsigned char>(ch))) : ch;
    start = ch == ' ';
  }
  return out;
}

GgufMeta metadata_from_hf(const Model& m, int n_layer, int64_t params, uint32_t file_type) {
  const ModelConfig& c = m.config();
  const std::string a = c.family;
  GgufMeta meta = {{"general.architecture", gguf_str(a)},
                   {"general.type", gguf_str("model")},
                   {"general.name", gguf_str(model_name(m.dir()))},
                   {"general.size_label", gguf_str(size_label(params))},
                   {a + ".block_count", gguf_u32(uint32_t(n_layer))},
                   {a + ".context_length", gguf_u32(uint32_t(c.max_positions))},
                   {a + ".embedding_length", gguf_u32(uint32_t(c.d_model))},
                   {a + ".feed_forward_length", gguf_u32(uint32_t(c.d_ff))},
                   {a + ".attention.head_count", gguf_u32(uint32_t(c.n_head))}};
  if (a == "llama") {
    if (c.rope.type == "llama3")
      fail(m.dir() + "/config.json", "rope_parameters.rope_type: llama3 RoPE is written by llama.cpp as a rope_freqs "
                                     "tensor, which this export does not make yet");
    meta.emplace_back(a + ".attention.head_count_kv", gguf_u32(uint32_t(c.n_kv_head)));
    if (c.rope.theta != 10000.0) meta.emplace_back(a + ".rope.freq_base", gguf_f32(float(c.rope.theta)));
    meta.emplace_back(a + ".attention.layer_norm_rms_epsilon", gguf_f32(c.norm_eps));
    meta.emplace_back(a + ".attention.key_length", gguf_u32(uint32_t(c.head_dim)));
    meta.emplace_back(a + ".attention.value_length", gguf_u32(uint32_t(c.head_dim)));
    meta.emplace_back("general.file_type", gguf_u32(file_type));
    meta.emplace_back(a + ".vocab_size", gguf_u32(uint32_t(c.vocab)));
    meta.emplace_back(a + ".rope.dimension_count", gguf_u32(uint32_t(c.head_dim)));
    if (c.rope.type == "linear") {
      meta.emplace_back(a + ".rope.scaling.type", gguf_str("linear"));
      meta.emplace_back(a + ".rope.scaling.factor", gguf_f32(float(c.rope.factor)));
    }
  } else {
    meta.emplace_back(a + ".attention.layer_norm_epsilon", gguf_f32(c.norm_eps));
    meta.emplace_back("general.file_type", gguf_u32(file_type));
  }
  return meta;
}

GgufMeta metadata_from_gguf(const GgufFile& f, int n_layer, const uint32_t* file_type) {
  const std::string arch = f.get_string("general.architecture");
  GgufMeta meta;
  for (const auto& key : f.keys()) {
    if (key == "general.alignment") continue;
    const GgufValue& v = *f.value(key);
    GgufOutValue o;
    o.type = v.type;
    o.elem = v.elem;
    o.u = v.u;
    o.i = v.i;
    o.f = v.num;
    o.b = v.i != 0;
    o.str = v.str;
    o.strings = v.strings;
    o.nums = v.nums;
    if (key == arch + ".block_count") o = gguf_u32(uint32_t(n_layer));
    if (key == "general.file_type" && file_type) o = gguf_u32(*file_type);
    meta.emplace_back(key, o);
  }
  return meta;
}

// GGUF source, types kept: the source's own tensors, blocks renumbered (exact bytes, whatever
// mix of types the file holds).
std::vector<GgufOutTensor> tensors_from_file(const GgufFile& f, const std::vector<int>& order) {
  std::vector<GgufOutTensor> before, after;
  std::map<int, std::vector<const GgufTensor*>> blocks;
  for (const auto& t : f.tensors()) {
    if (t.name.rfind("blk.", 0) == 0) {
      blocks[int(std::strtol(t.name.c_str() + 4, nullptr, 10))].push_back(&t);
      continue;
    }
    auto& list = blocks.empty() ? before : after;
    list.push_back({t.name, t.type, t.dims, std::string(reinterpret_cast<const char*>(f.data(t)), t.bytes)});
  }
  std::vector<GgufOutTensor> out = std::move(before);
  for (size_t l = 0; l < order.size(); ++l)
    for (const GgufTensor* t : blocks[order[l]]) {
      const std::string rest = t->name.substr(t->name.find('.', 4));
      out.push_back({"blk." + std::to_string(l) + rest, t->type, t->dims,
                     std::string(reinterpret_cast<const char*>(f.data(*t)), t->bytes)});
    }
  for (auto& t : after) out.push_back(std::move(t));
  return out;
}

}  // namespace

void write_gguf_file(const Job& job, const std::string& path) {
  const Model& m = job.model;
  const bool from_gguf = is_gguf_file(m.dir());
  const int n = int(job.order.size());
  ExportResult& r = job.result;
  std::vector<GgufOutTensor> tensors;
  GgufMeta meta;
  uint32_t alignment = 32;
  if (from_gguf) {
    const GgufFile f(m.dir());
    alignment = uint32_t(f.alignment());
    if (job.keep) tensors = tensors_from_file(f, job.order);
    const uint32_t ft = file_type_id(job.dtype);
    meta = metadata_from_gguf(f, n, job.keep ? nullptr : &ft);
  }
  if (tensors.empty()) {
    std::map<std::string, std::pair<int, int64_t>> fallbacks;  // "ffn_down.weight" -> count, row length
    for (const Part& t : gguf_parts(m, job.order)) {
      WeightType type = t.f32 ? WeightType::F32 : job.keep ? t.p->type : job.dtype;
      if (is_quantized(type) && t.p->cols % block_elements(type) != 0) {
        const size_t dot = t.name.find('.', 4);  // "blk.N.ffn_down.weight" -> "ffn_down.weight"
        auto& f = fallbacks[t.name.rfind("blk.", 0) == 0 ? t.name.substr(dot + 1) : t.name];
        f = {f.first + 1, t.p->cols};
        type = WeightType::F16;  // llama.cpp's converter: rows that are not whole blocks stay f16
      }
      const std::vector<int64_t> dims = t.vector ? std::vector<int64_t>{t.p->cols} : std::vector<int64_t>{t.p->cols, t.n};
      tensors.push_back({t.name, type, dims, part_bytes(t, type)});
    }
    for (const auto& [name, f] : fallbacks)
      r.notes.push_back(std::to_string(f.first) + " '" + name + "' tensor(s) written as f16: rows of " +
                        std::to_string(f.second) + " values are not whole " + weight_type_name(job.dtype) +
                        " blocks of " + std::to_string(block_elements(job.dtype)) + " (llama.cpp does the same)");
  }
  if (!from_gguf) {
    int64_t params = 0;
    for (const auto& t : tensors) {
      int64_t k = 1;
      for (int64_t d : t.dims) k *= d;
      params += k;
    }
    const WeightType ft = job.keep ? m.weights().layers.at(0).qkv_w.type : job.dtype;
    meta = metadata_from_hf(m, n, params, file_type_id(ft));
    hf_tokenizer_metadata(m.dir(), m.config(), meta, r);
    meta.emplace_back("general.quantization_version", gguf_u32(2));
  }
  write_gguf(path, meta, tensors, alignment);
  r.tensors = tensors.size();
  r.bytes = std::filesystem::file_size(path);
}

}  // namespace layerlab::exporting
