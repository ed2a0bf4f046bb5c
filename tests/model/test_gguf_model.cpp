// load_model on GGUF files. References: the Hugging Face golden cases (llama-tiny from
// llama.cpp's own F32 file; gpt2-tiny through a GGUF laid out as llama.cpp's converter does),
// the Hugging Face folders the llama.cpp files were converted from, and a float64 Q8_0
// dequantization written here from ggml's block definition. Golden tolerance as
// test_golden_cpu: max relative error 1e-4 (HF float64 vs our float32).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "layerlab/backend.h"
#include "layerlab/error.h"
#include "layerlab/model.h"
#include "layerlab/plan.h"
#include "layerlab/runner.h"
#include "layerlab/tokenizer.h"
#include "model/export_fixtures.h"  // mean_logprob
#include "model/gguf_fixtures.h"
#include "model/golden_check.h"

namespace layerlab::testing {
namespace {

const std::string kGguf = "models/gguf/";

// Q8_0 block (ggml-common.h block_q8_0): f16 scale d, then 32 int8 q; value = d * q.
std::vector<double> q8_0_row(const Param& p, int64_t r) {
  const uint8_t* b = p.row_ptr(r);
  std::vector<double> out;
  for (int64_t k = 0; k < p.cols / 32; ++k, b += 34) {
    uint16_t h;
    std::memcpy(&h, b, 2);
    const double d = f16_to_f32(h);
    for (int j = 0; j < 32; ++j) out.push_back(d * static_cast<int8_t>(b[2 + j]));
  }
  return out;
}

TEST(GgufModel, LlamaTinyF32MatchesGoldenCases) {
  auto model = load_model(shared_dir() + "/" + kGguf + "llama-tiny-f32.gguf");
  auto backend = make_cpu_backend(*model);
  check_golden_model("llama-tiny", *backend, *model, "json", 1e-4);
}

TEST(GgufModel, LlamaTinyWeightsEqualTheHuggingFaceFolder) {
  auto g = load_model(shared_dir() + "/" + kGguf + "llama-tiny-f32.gguf");
  auto hf = load_model(shared_dir() + "/golden/llama-tiny");
  const ModelConfig &a = g->config(), &b = hf->config();
  EXPECT_EQ(a.family, "llama");
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_kv_head, b.n_kv_head);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.d_ff, b.d_ff);
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.max_positions, b.max_positions);
  EXPECT_FLOAT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.rope.theta, b.rope.theta);
  EXPECT_EQ(a.tied_head, b.tied_head);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_NE(a.weight_dtype.find("f32"), std::string::npos) << a.weight_dtype;
  EXPECT_EQ(g->parameter_count(), hf->parameter_count());
  // The un-permuted q|k|v rows are HF's q_proj | k_proj | v_proj, bit for bit.
  for (int l = 0; l < a.n_layer; ++l) {
    const Param &x = g->weights().layers[l].qkv_w, &y = hf->weights().layers[l].qkv_w;
    ASSERT_EQ(x.rows, y.rows);
    EXPECT_EQ(std::memcmp(x.data, y.data, size_t(x.rows * x.cols) * 4), 0) << "layer " << l;
  }
}

TEST(GgufModel, Gpt2TinyMatchesGoldenCases) {
  const std::string path = make_gpt2_tiny_gguf();
  auto model = load_model(path);
  EXPECT_EQ(model->config().family, "gpt2");
  EXPECT_FALSE(model->config().tied_head);  // the converter writes output.weight as a copy
  auto backend = make_cpu_backend(*model);
  check_golden_model("gpt2-tiny", *backend, *model, "text", 1e-4);
  std::filesystem::remove(path);
}

TEST(GgufModel, Q8_0KeepsStoredTypesAndUnpermutesQuantizedRows) {
  auto g = load_model(shared_dir() + "/" + kGguf + "llama-code-16l-q8_0.gguf");
  LoadOptions as_f32;
  as_f32.keep_dtype = false;  // HF rows as float32 for the comparisons below
  auto hf = load_model(shared_dir() + "/models/llama-code-16l", as_f32);
  const ModelConfig &a = g->config(), &b = hf->config();
  EXPECT_EQ(a.n_layer, 16);
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.n_kv_head, b.n_kv_head);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.d_ff, b.d_ff);
  EXPECT_NE(a.weight_dtype.find("q8_0"), std::string::npos) << a.weight_dtype;
  const auto& L = g->weights().layers[3];
  EXPECT_EQ(g->weights().tok_emb.type, WeightType::Q8_0);
  EXPECT_EQ(L.qkv_w.type, WeightType::Q8_0);
  EXPECT_EQ(L.up_w.type, WeightType::Q8_0);
  EXPECT_EQ(L.down_w.type, WeightType::F16);  // 688 columns: not whole q8_0 blocks
  EXPECT_EQ(L.ln1_w.type, WeightType::F32);
  // Quantized rows moved whole: each q|k|v row is HF's row within Q8_0's error (|d| / 2 per value).
  const Param& ref = hf->weights().layers[3].qkv_w;
  ASSERT_EQ(L.qkv_w.rows, ref.rows);
  for (int64_t r = 0; r < ref.rows; ++r) {
    const auto row = q8_0_row(L.qkv_w, r);
    double amax = 0, err = 0;
    for (int64_t c = 0; c < ref.cols; ++c) {
      amax = std::max(amax, std::abs(double(ref.data[r * ref.cols + c])));
      err = std::max(err, std::abs(row[size_t(c)] - ref.data[r * ref.cols + c]));
    }
    ASSERT_LE(err, amax / 127.0 * 0.51 + 1e-3 * amax) << "row " << r;
  }
  // F16 rows (kept from the float16 HF folder) are exact through dequantize_rows.
  std::vector<float> down(size_t(L.down_w.cols));
  dequantize_rows(L.down_w, 5, 1, down.data());
  EXPECT_EQ(std::memcmp(down.data(), hf->weights().layers[3].down_w.data + 5 * L.down_w.cols, down.size() * 4), 0);
}

TEST(GgufModel, Q4KMKeepsLlamaCppsTensorTypes) {
  // The tensor table as ../shared/models/gguf/README.md describes it (k-quants where rows are
  // whole 256-value blocks; the 688-column ffn_down cannot be and stays f16).
  {
    GgufFile f(shared_dir() + "/" + kGguf + "llama-code-16l-q4_K_M.gguf");
    int quantized = 0;
    for (const auto& t : f.tensors()) {
      if (t.dims.size() == 1) EXPECT_EQ(t.type, WeightType::F32) << t.name;
      if (t.name.find("ffn_down") != std::string::npos) EXPECT_EQ(t.type, WeightType::F16) << t.name;
      if (t.type == WeightType::Q4_K || t.type == WeightType::Q6_K) {
        ++quantized;
        EXPECT_EQ(t.cols() % 256, 0) << t.name;
      }
    }
    EXPECT_EQ(quantized, 16 * 6 + 2);  // q, k, v, o, gate, up per block; token_embd, output
  }
  auto g = load_model(shared_dir() + "/" + kGguf + "llama-code-16l-q4_K_M.gguf");
  EXPECT_EQ(g->config().n_layer, 16);
  EXPECT_NE(g->config().weight_dtype.find("q4_K_M"), std::string::npos);
  EXPECT_EQ(g->weights().layers[0].down_w.type, WeightType::F16);
}

// The quantized files run (embeddings, products and head in their stored types) and predict
// like the float32 Hugging Face folder they were made from: llama.cpp's quantizers lose a
// little, and the loss grows from q8_0 to q4_K_M. Text: Python source, the model's domain.
TEST(GgufModel, QuantizedFilesPredictLikeTheFloatFolder) {
  LoadOptions as_f32;
  as_f32.keep_dtype = false;
  auto hf = load_model(shared_dir() + "/models/llama-code-16l", as_f32);
  auto tok = load_tokenizer(shared_dir() + "/models/llama-code-16l");
  // The first held-out source file of the model's corpus, its first 256 tokens.
  std::ifstream val(shared_dir() + "/data/python-code/val.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(val, line));
  std::vector<int32_t> ids = {hf->config().bos_id};
  for (int32_t id : tok->encode(nlohmann::json::parse(line)["text"].get<std::string>()))
    if (ids.size() < 256) ids.push_back(id);
  ASSERT_EQ(ids.size(), 256u);
  const double ref = mean_logprob(*hf, ids);
  const double q8 = mean_logprob(*load_model(shared_dir() + "/" + kGguf + "llama-code-16l-q8_0.gguf"), ids);
  const double q4 = mean_logprob(*load_model(shared_dir() + "/" + kGguf + "llama-code-16l-q4_K_M.gguf"), ids);
  // ../shared/README.md gives the model's held-out loss as 2.26 nats/token (all files).
  EXPECT_NEAR(-ref, 2.26, 0.3);
  EXPECT_NEAR(q8, ref, 0.005) << "q8_0";
  EXPECT_NEAR(q4, ref, 0.05) << "q4_K_M";
  std::printf("mean log p per token: f32 %.5f, q8_0 %.5f, q4_K_M %.5f\n", ref, q8, q4);
}

void expect_load_error(const std::string& path, std::initializer_list<std::string> fragments) {
  try {
    load_model(path);
    ADD_FAILURE() << "accepted " << path;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
  }
  std::filesystem::remove(path);
}

GgufOutValue* find_meta(GgufMeta& m, const std::string& key) {
  for (auto& [k, v] : m)
    if (k == key) return &v;
  return nullptr;
}

TEST(GgufModel, HostileMetadataAndTensors) {
  const std::string src = kGguf + "llama-tiny-f32.gguf";
  expect_load_error(edited_gguf(src, "arch.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "general.architecture") = gguf_str("mamba"); }),
                    {"'general.architecture': unsupported architecture 'mamba'"});
  expect_load_error(edited_gguf(src, "heads.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "llama.attention.head_count_kv") = gguf_u32(3); }),
                    {"'llama.attention.head_count_kv': must divide head_count (4)"});
  expect_load_error(edited_gguf(src, "zero.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "llama.block_count") = gguf_u32(0); }),
                    {"'llama.block_count': 0 is outside [1, 16777216]"});
  expect_load_error(edited_gguf(src, "huge.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "llama.feed_forward_length") = gguf_u32(4000000000u); }),
                    {"'llama.feed_forward_length': 4000000000 is outside"});
  expect_load_error(edited_gguf(src, "ff.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "llama.feed_forward_length") = gguf_u32(64); }),
                    {"tensor 'blk.0.ffn_gate.weight' has dims [48, 128]", "implies [48, 64]"});
  expect_load_error(edited_gguf(src, "layers.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "llama.block_count") = gguf_u32(5); }),
                    {"tensor 'blk.5.", "block 5 but llama.block_count is 5"});
  expect_load_error(edited_gguf(src, "bos.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "tokenizer.ggml.bos_token_id") = gguf_u32(32000); }),
                    {"'tokenizer.ggml.bos_token_id': token 32000 is outside the vocabulary"});
  expect_load_error(edited_gguf(src, "type.gguf", [](GgufMeta& m, auto&) { *find_meta(m, "llama.embedding_length") = gguf_str("48"); }),
                    {"'llama.embedding_length': expected an integer, got string"});
  expect_load_error(edited_gguf(src, "rope.gguf", [](GgufMeta& m, auto&) { m.emplace_back("llama.rope.scaling.type", gguf_str("yarn")); }),
                    {"'llama.rope.scaling.type': unsupported RoPE scaling 'yarn'"});
  expect_load_error(edited_gguf(src, "missing.gguf", [](GgufMeta&, std::vector<GgufOutTensor>& t) {
                      std::erase_if(t, [](const auto& x) { return x.name == "blk.2.attn_k.weight"; });
                    }),
                    {"missing tensor 'blk.2.attn_k.weight'"});
}

TEST(GgufModel, NoOutputTensorMeansATiedHead) {
  const std::string p = edited_gguf(kGguf + "llama-tiny-f32.gguf", "tied.gguf", [](GgufMeta&, std::vector<GgufOutTensor>& t) {
    std::erase_if(t, [](const auto& x) { return x.name == "output.weight"; });
  });
  auto g = load_model(p);
  EXPECT_TRUE(g->config().tied_head);
  EXPECT_EQ(g->weights().head_w.raw, g->weights().tok_emb.raw);
  std::filesystem::remove(p);
}

TEST(GgufModel, LinearRopeScalingAndFreqBaseAreRead) {
  const std::string p = edited_gguf(kGguf + "llama-tiny-f32.gguf", "scaled.gguf", [](GgufMeta& m, auto&) {
    m.emplace_back("llama.rope.freq_base", gguf_f32(500000.0f));
    m.emplace_back("llama.rope.scaling.type", gguf_str("linear"));
    m.emplace_back("llama.rope.scaling.factor", gguf_f32(4.0f));
  });
  auto g = load_model(p);
  EXPECT_EQ(g->config().rope.theta, 500000.0);
  EXPECT_EQ(g->config().rope.type, "linear");
  EXPECT_EQ(g->config().rope.factor, 4.0);
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace layerlab::testing
