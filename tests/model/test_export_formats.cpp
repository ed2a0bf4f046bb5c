// The files an export writes, against independent references: the Hugging Face folders in
// ../shared/golden (saved by transformers) and the GGUF files made by llama.cpp's own
// converter (../shared/models/gguf/README.md). A full-plan export must reproduce them: the
// same tensor names, shapes (types), bytes and metadata.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "layerlab/error.h"
#include "layerlab/gguf.h"
#include "layerlab/safetensors.h"
#include "layerlab/tokenizer.h"
#include "model/export_fixtures.h"

namespace layerlab::testing {
namespace {

void expect_same_safetensors(const std::string& got_path, const std::string& ref_path) {
  SafetensorsFile got(got_path), ref(ref_path);
  ASSERT_EQ(got.tensors().size(), ref.tensors().size());
  for (const auto& [name, t] : ref.tensors()) {
    const TensorInfo* g = got.find(name);
    ASSERT_NE(g, nullptr) << name << " missing from the export";
    EXPECT_EQ(g->shape, t.shape) << name;
    EXPECT_EQ(g->dtype, t.dtype) << name;
    ASSERT_EQ(g->end - g->begin, t.end - t.begin) << name;
    EXPECT_EQ(std::memcmp(got.bytes(*g), ref.bytes(t), t.end - t.begin), 0) << name;
  }
}

// Full plan, f32: the transformers-saved folder back, bit for bit, with its config and tokenizer.
TEST(ExportFormats, HfFullPlanReproducesTheSourceFolder) {
  for (const char* name : {"llama-tiny", "gpt2-tiny", "bert-tiny"}) {
    const std::string dir = shared_dir() + "/golden/" + name;
    auto src = load_model(dir);
    ScratchDir tmp(std::string("hf_") + name);
    export_plan(*src, full_plan(src->config().n_layer), tmp / "out", export_options("hf", "f32"));
    expect_same_safetensors(tmp / "out/model.safetensors", dir + "/model.safetensors");
    EXPECT_EQ(nlohmann::json::parse(read_text_file(tmp / "out/config.json")),
              nlohmann::json::parse(read_text_file(dir + "/config.json")))
        << name;
    for (const char* f : {"generation_config.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt"})
      if (file_exists(dir + "/" + f)) EXPECT_EQ(read_text_file(tmp / "out/" + f), read_text_file(dir + "/" + f)) << f;
  }
}

// Under a plan: the layer count and the tensors of each layer follow the plan.
TEST(ExportFormats, HfPlanRenumbersLayers) {
  const std::string dir = shared_dir() + "/golden/gpt2-tiny";
  auto src = load_model(dir);
  ScratchDir tmp("hf_plan");
  export_plan(*src, parse_plan_text("0-2,2,1,4-5"), tmp / "out", export_options("hf"));
  const auto cfg = nlohmann::json::parse(read_text_file(tmp / "out/config.json"));
  EXPECT_EQ(cfg["n_layer"], 7);
  SafetensorsFile got(tmp / "out/model.safetensors"), ref(dir + "/model.safetensors");
  const int order[] = {0, 1, 2, 2, 1, 4, 5};
  for (int l = 0; l < 7; ++l) {
    const TensorInfo& g = got.get("transformer.h." + std::to_string(l) + ".attn.c_attn.weight");
    const TensorInfo& r = ref.get("transformer.h." + std::to_string(order[l]) + ".attn.c_attn.weight");
    EXPECT_EQ(g.shape, r.shape);
    EXPECT_EQ(std::memcmp(got.bytes(g), ref.bytes(r), r.end - r.begin), 0) << "layer " << l;
  }
  EXPECT_EQ(got.find("transformer.h.7.ln_1.weight"), nullptr);
}

void expect_same_gguf(const std::string& got_path, const std::string& ref_path, bool metadata_values) {
  GgufFile got(got_path), ref(ref_path);
  ASSERT_EQ(got.tensors().size(), ref.tensors().size());
  for (const auto& t : ref.tensors()) {
    const GgufTensor* g = got.find(t.name);
    ASSERT_NE(g, nullptr) << t.name << " missing from the export";
    EXPECT_EQ(g->type, t.type) << t.name;
    EXPECT_EQ(g->dims, t.dims) << t.name;
    ASSERT_EQ(g->bytes, t.bytes) << t.name;
    EXPECT_EQ(std::memcmp(got.data(*g), ref.data(t), t.bytes), 0) << t.name;
  }
  std::vector<std::string> a = got.keys(), b = ref.keys();
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (metadata_values) {
    EXPECT_EQ(a, b);
  } else {  // llama.cpp also splits the folder name into basename / finetune
    for (const auto& k : a) EXPECT_TRUE(ref.has(k)) << k;
  }
  for (const auto& k : a) {
    if (!ref.has(k)) continue;
    const GgufValue &x = *got.value(k), &y = *ref.value(k);
    EXPECT_EQ(x.type, y.type) << k;
    EXPECT_EQ(x.str, y.str) << k;
    EXPECT_EQ(x.num, y.num) << k;
    EXPECT_EQ(x.strings, y.strings) << k;
    EXPECT_EQ(x.nums, y.nums) << k;
  }
}

// HF llama-tiny -> GGUF f32 is llama.cpp's converter output: names, types, dims, metadata
// (keys and values) and tensor bytes (so the RoPE permutation of attn_q / attn_k is the converter's).
TEST(ExportFormats, GgufFullPlanReproducesLlamaCppsConverter) {
  auto src = load_model(shared_dir() + "/golden/llama-tiny");
  ScratchDir tmp("gguf");
  export_plan(*src, full_plan(6), tmp / "m.gguf", export_options("gguf", "f32"));
  expect_same_gguf(tmp / "m.gguf", shared_dir() + "/models/gguf/llama-tiny-f32.gguf", true);
}

// The float16 llama-code-16l folder -> q8_0 is byte for byte `convert_hf_to_gguf.py --outtype
// q8_0` (ggml's reference quantizer; ffn_down's 688-value rows kept f16).
TEST(ExportFormats, GgufQ8_0ReproducesLlamaCppsConverter) {
  auto src = load_model(shared_dir() + "/models/llama-code-16l");
  ScratchDir tmp("q8");
  const ExportResult r = export_plan(*src, full_plan(16), tmp / "m.gguf", export_options("gguf", "q8_0"));
  expect_same_gguf(tmp / "m.gguf", shared_dir() + "/models/gguf/llama-code-16l-q8_0.gguf", false);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("16 'ffn_down.weight' tensor(s) written as f16"), std::string::npos) << r.notes[0];
}

// GGUF -> HF: llama.cpp's file of llama-tiny back to the transformers folder it came from
// (RoPE rows un-permuted, q|k|v and gate|up split), and a tokenizer.model that encodes as the
// original SentencePiece model.
TEST(ExportFormats, GgufToHfGivesTheOriginalFolder) {
  auto src = load_model(shared_dir() + "/models/gguf/llama-tiny-f32.gguf");
  ScratchDir tmp("back");
  export_plan(*src, full_plan(6), tmp / "hf", export_options("hf"));
  expect_same_safetensors(tmp / "hf/model.safetensors", shared_dir() + "/golden/llama-tiny/model.safetensors");
  auto back = load_model(tmp / "hf");
  auto orig = load_model(shared_dir() + "/golden/llama-tiny");
  const auto ids = test_ids(orig->config());
  EXPECT_EQ(plan_logits(*back, full_plan(6), ids), plan_logits(*orig, full_plan(6), ids));
  const std::string text = "def f(x):\n    return x * 2  # ünïcode, tabs\tand  spaces";
  EXPECT_EQ(load_tokenizer(tmp / "hf")->encode(text), load_tokenizer(shared_dir() + "/golden/llama-tiny")->encode(text));
}

// GPT-2: HF -> GGUF -> HF gives the folder back (Conv1D transposes both ways, output.weight as
// llama.cpp's copy of token_embd recognised as the tied head); the tokenizer survives both ways.
TEST(ExportFormats, Gpt2RoundTrip) {
  const std::string dir = shared_dir() + "/golden/gpt2-tiny";
  auto src = load_model(dir);
  ScratchDir tmp("gpt2");
  export_plan(*src, full_plan(6), tmp / "m.gguf", export_options("gguf"));
  {
    GgufFile f(tmp / "m.gguf");
    EXPECT_EQ(f.get_string("general.architecture"), "gpt2");
    EXPECT_EQ(f.get("blk.0.attn_qkv.weight").dims, (std::vector<int64_t>{64, 192}));
    EXPECT_EQ(f.get("position_embd.weight").type, WeightType::F32);
    EXPECT_NE(f.find("output.weight"), nullptr);
  }
  auto g = load_model(tmp / "m.gguf");
  export_plan(*g, full_plan(6), tmp / "hf", export_options("hf"));
  expect_same_safetensors(tmp / "hf/model.safetensors", dir + "/model.safetensors");
  const std::string text = "import os\nprint('héllo  world')<|endoftext|>";
  const auto want = load_tokenizer(dir)->encode(text);
  EXPECT_EQ(load_tokenizer(tmp / "m.gguf")->encode(text), want);
  EXPECT_EQ(load_tokenizer(tmp / "hf")->encode(text), want);
}

}  // namespace
}  // namespace layerlab::testing
