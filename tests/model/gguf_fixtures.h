#pragma once
// GGUF files for model and tokenizer tests: a GPT-2 GGUF made from ../shared/golden/gpt2-tiny
// the way llama.cpp's convert_hf_to_gguf.py lays it out (no GPT-2 GGUF exists in ../shared),
// and editable copies of llama.cpp's own files for hostile-input tests.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "golden.h"
#include "layerlab/gguf.h"
#include "layerlab/safetensors.h"

namespace layerlab::testing {

inline std::string gguf_temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("layerlab_ggufm_" + std::to_string(::getpid()) + "_" + name)).string();
}

using GgufMeta = std::vector<std::pair<std::string, GgufOutValue>>;

// The metadata and tensors of an existing file, as writer input (to edit and write back).
inline void gguf_contents(const GgufFile& f, GgufMeta& meta, std::vector<GgufOutTensor>& tensors) {
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
    meta.emplace_back(key, o);
  }
  for (const auto& t : f.tensors())
    tensors.push_back({t.name, t.type, t.dims, std::string(reinterpret_cast<const char*>(f.data(t)), t.bytes)});
}

// gpt2-tiny as convert_hf_to_gguf.py writes it: Conv1D weights ([in, out] in HF) transposed to
// [out, in] (ggml dims [in, out]), HF names mapped to llama.cpp's, output.weight a copy of
// token_embd, tokenizer.ggml.* from vocab.json / merges.txt.
inline std::string make_gpt2_tiny_gguf() {
  const std::string dir = shared_dir() + "/golden/gpt2-tiny";
  const auto cfg = nlohmann::json::parse(read_text_file(dir + "/config.json"));
  SafetensorsFile st(dir + "/model.safetensors");
  const std::string p = st.find("transformer.wte.weight") ? "transformer." : "";
  std::vector<GgufOutTensor> ts;
  auto plain = [&](const std::string& hf, const std::string& name) {
    const TensorInfo& t = st.get(hf);
    std::vector<int64_t> dims(t.shape.rbegin(), t.shape.rend());
    ts.push_back(gguf_f32_tensor(name, dims, st.read_f32(hf)));
  };
  auto conv1d = [&](const std::string& hf, const std::string& name) {
    const TensorInfo& t = st.get(hf);
    const int64_t in = t.shape[0], out = t.shape[1];
    const auto v = st.read_f32(hf);
    std::vector<float> tr(v.size());
    for (int64_t i = 0; i < in; ++i)
      for (int64_t o = 0; o < out; ++o) tr[size_t(o * in + i)] = v[size_t(i * out + o)];
    ts.push_back(gguf_f32_tensor(name, {in, out}, tr));
  };
  plain(p + "wte.weight", "token_embd.weight");
  plain(p + "wpe.weight", "position_embd.weight");
  const int n_layer = cfg["n_layer"].get<int>();
  for (int l = 0; l < n_layer; ++l) {
    const std::string h = p + "h." + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
    plain(h + "ln_1.weight", b + "attn_norm.weight");
    plain(h + "ln_1.bias", b + "attn_norm.bias");
    conv1d(h + "attn.c_attn.weight", b + "attn_qkv.weight");
    plain(h + "attn.c_attn.bias", b + "attn_qkv.bias");
    conv1d(h + "attn.c_proj.weight", b + "attn_output.weight");
    plain(h + "attn.c_proj.bias", b + "attn_output.bias");
    plain(h + "ln_2.weight", b + "ffn_norm.weight");
    plain(h + "ln_2.bias", b + "ffn_norm.bias");
    conv1d(h + "mlp.c_fc.weight", b + "ffn_up.weight");
    plain(h + "mlp.c_fc.bias", b + "ffn_up.bias");
    conv1d(h + "mlp.c_proj.weight", b + "ffn_down.weight");
    plain(h + "mlp.c_proj.bias", b + "ffn_down.bias");
  }
  plain(p + "ln_f.weight", "output_norm.weight");
  plain(p + "ln_f.bias", "output_norm.bias");
  plain(p + "wte.weight", "output.weight");

  const auto vocab = nlohmann::json::parse(read_text_file(dir + "/vocab.json"));
  std::vector<std::string> tokens(vocab.size());
  for (const auto& [piece, id] : vocab.items()) tokens.at(id.get<size_t>()) = piece;
  std::vector<std::string> merges;
  std::ifstream in(dir + "/merges.txt");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
  std::vector<int32_t> types(tokens.size(), 1);
  types.back() = 3;  // <|endoftext|>: control
  const GgufMeta meta = {
      {"general.architecture", gguf_str("gpt2")},
      {"gpt2.block_count", gguf_u32(uint32_t(n_layer))},
      {"gpt2.context_length", gguf_u32(cfg["n_positions"].get<uint32_t>())},
      {"gpt2.embedding_length", gguf_u32(cfg["n_embd"].get<uint32_t>())},
      {"gpt2.feed_forward_length", gguf_u32(4 * cfg["n_embd"].get<uint32_t>())},
      {"gpt2.attention.head_count", gguf_u32(cfg["n_head"].get<uint32_t>())},
      {"gpt2.attention.layer_norm_epsilon", gguf_f32(cfg["layer_norm_epsilon"].get<float>())},
      {"general.file_type", gguf_u32(0)},
      {"tokenizer.ggml.model", gguf_str("gpt2")},
      {"tokenizer.ggml.pre", gguf_str("gpt-2")},
      {"tokenizer.ggml.tokens", gguf_strings(tokens)},
      {"tokenizer.ggml.token_type", gguf_i32s(types)},
      {"tokenizer.ggml.merges", gguf_strings(merges)},
      {"tokenizer.ggml.bos_token_id", gguf_u32(50256)},
      {"tokenizer.ggml.eos_token_id", gguf_u32(50256)},
  };
  const std::string out = gguf_temp("gpt2-tiny.gguf");
  write_gguf(out, meta, ts);
  return out;
}

// A copy of a ../shared GGUF file after `edit` changes its metadata and tensors.
inline std::string edited_gguf(const std::string& shared_path, const std::string& name,
                               const std::function<void(GgufMeta&, std::vector<GgufOutTensor>&)>& edit) {
  GgufMeta meta;
  std::vector<GgufOutTensor> ts;
  {
    GgufFile f(shared_dir() + "/" + shared_path);
    gguf_contents(f, meta, ts);
  }
  edit(meta, ts);
  const std::string out = gguf_temp(name);
  write_gguf(out, meta, ts);
  return out;
}

}  // namespace layerlab::testing
