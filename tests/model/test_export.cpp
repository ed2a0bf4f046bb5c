// layerlab export: a plan's layers written as a model of its own. Reference: the ORIGINAL model
// run under the plan by Runner; the export, reloaded by load_model, runs its full plan and must
// give the same logits. Float32 exports hold the same values in a new order, so only the
// summation order of the products could differ: 1e-5 (max |a - b| / max |b|, golden.h).
// Lossy types are compared with the float32 run at tolerances stated per test.
#include <gtest/gtest.h>

#include "cli_run.h"
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "layerlab/error.h"
#include "layerlab/gguf.h"
#include "layerlab/tokenizer.h"
#include "model/export_fixtures.h"

namespace layerlab::testing {
namespace {

struct Case {
  const char* model;  // under ../shared
  const char* plan;   // a repeat (2, 2) and a reversal (2, 1), skips
};
const Case kCases[] = {{"golden/llama-tiny", "0-2,2,1,4-5"},
                       {"golden/gpt2-tiny", "0-2,2,1,4-5"},
                       {"models/llama-code-16l", "0-5,5,4,9-15"}};

class ExportPlan : public ::testing::TestWithParam<std::tuple<Case, const char*>> {};

TEST_P(ExportPlan, ReloadedExportEqualsTheOriginalUnderThePlan) {
  const auto [c, format] = GetParam();
  auto src = load_model(shared_dir() + "/" + c.model);
  const Plan plan = parse_plan_text(c.plan);
  ScratchDir tmp("plan");
  const std::string out = tmp / (std::string("out") + (std::string(format) == "gguf" ? ".gguf" : ""));
  // The model's own type (f16 for llama-code-16l, f32 for the golden models): the same kernels run.
  const ExportResult r = export_plan(*src, plan, out, export_options(format));
  EXPECT_EQ(r.n_layer, int(plan.steps.size()));
  auto exported = load_model(out);
  EXPECT_EQ(exported->config().n_layer, int(plan.steps.size()));
  EXPECT_EQ(exported->config().family, src->config().family);
  const auto ids = test_ids(src->config());
  const auto ref = plan_logits(*src, plan, ids);
  const auto got = plan_logits(*exported, full_plan(exported->config().n_layer), ids);
  EXPECT_LE(max_rel_error(got, ref), 1e-5) << c.model << " " << format;
  // And the export is not the unmodified model: the full plan of the source differs.
  EXPECT_GT(max_rel_error(plan_logits(*src, full_plan(src->config().n_layer), ids), ref), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Models, ExportPlan,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values("hf", "gguf")));

// BERT (Hugging Face folders only): the masked-LM logits of the export equal the original's
// under the plan.
TEST(Export, BertPlan) {
  auto src = load_model(shared_dir() + "/golden/bert-tiny");
  const Plan plan = parse_plan_text("0-2,2,1,4-5");
  ScratchDir tmp("bert");
  export_plan(*src, plan, tmp / "b", export_options("hf"));
  auto exported = load_model(tmp / "b");
  const std::vector<int32_t> ids = {101, 1996, 103, 2003, 2204, 1012, 102};  // [CLS] the [MASK] is good . [SEP]
  EXPECT_LE(max_rel_error(plan_logits(*exported, full_plan(7), ids), plan_logits(*src, plan, ids)), 1e-5);
}

// llama-code-16l (float16) exported as float32: the values are the same, the products run in
// float32 kernels instead of the f16 ones.
TEST(Export, Float16ModelAsFloat32) {
  auto src = load_model(shared_dir() + "/models/llama-code-16l");
  const Plan plan = parse_plan_text("0-5,5,4,9-15");
  ScratchDir tmp("f32");
  for (const char* format : {"hf", "gguf"}) {
    const std::string out = tmp / (std::string("m.") + format);
    export_plan(*src, plan, out, export_options(format, "f32"));
    auto exported = load_model(out);
    const auto ids = test_ids(src->config());
    EXPECT_LE(max_rel_error(plan_logits(*exported, full_plan(15), ids), plan_logits(*src, plan, ids)), 1e-5) << format;
  }
}

// Lossy types: llama-tiny (random weights, init range 0.2) exported under the plan, against the
// float32 original under the plan. Bounds ~3x the measured errors (f16 3.4e-3, bf16 2.6e-2,
// q8_0 2.4e-2: random weights of init range 0.2 amplify weight error through the layers);
// bf16 keeps 8 bits of mantissa, f16 11, q8_0 8 bits per 32-value block.
TEST(Export, LossyTypesStayCloseToFloat32) {
  auto src = load_model(shared_dir() + "/golden/llama-tiny");
  const Plan plan = parse_plan_text("0-2,2,1,4-5");
  const auto ids = test_ids(src->config());
  const auto ref = plan_logits(*src, plan, ids);
  ScratchDir tmp("lossy");
  struct Lossy {
    const char* format;
    const char* dtype;
    double tol;
  };
  for (const Lossy& l : {Lossy{"hf", "f16", 1e-2}, Lossy{"hf", "bf16", 8e-2}, Lossy{"gguf", "f16", 1e-2},
                         Lossy{"gguf", "bf16", 8e-2}, Lossy{"gguf", "q8_0", 8e-2}}) {
    const std::string out = tmp / (std::string(l.dtype) + "." + l.format);
    export_plan(*src, plan, out, export_options(l.format, l.dtype));
    auto exported = load_model(out);
    const double err = max_rel_error(plan_logits(*exported, full_plan(7), ids), ref);
    std::printf("%s %s: max rel error %.2e\n", l.format, l.dtype, err);
    EXPECT_LE(err, l.tol) << l.format << " " << l.dtype;
    EXPECT_GT(err, 0) << l.format << " " << l.dtype;  // really stored in the lossy type
  }
}

// Block types on a trained model (llama-code-16l, float16): the first 256 tokens of a held-out
// Python file, mean log p per token against the float16 folder. Bounds as test_gguf_model's
// for llama.cpp's own files (q8_0 0.005, q4_K_M 0.05); measured: see the printout.
TEST(Export, BlockTypesPredictLikeTheFloatFolder) {
  auto src = load_model(shared_dir() + "/models/llama-code-16l");
  auto tok = load_tokenizer(shared_dir() + "/models/llama-code-16l");
  std::ifstream val(shared_dir() + "/data/python-code/val.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(val, line));
  std::vector<int32_t> ids = {src->config().bos_id};
  for (int32_t id : tok->encode(nlohmann::json::parse(line)["text"].get<std::string>()))
    if (ids.size() < 256) ids.push_back(id);
  const double ref = mean_logprob(*src, ids);
  ScratchDir tmp("blocks");
  for (auto [dtype, tol] : {std::pair{"q8_0", 0.005}, std::pair{"q6_K", 0.01}, std::pair{"q5_K", 0.02},
                            std::pair{"q4_K", 0.05}, std::pair{"q4_0", 0.05}}) {
    const std::string out = tmp / (std::string(dtype) + ".gguf");
    export_plan(*src, full_plan(16), out, export_options("gguf", dtype));
    const double lp = mean_logprob(*load_model(out), ids);
    std::printf("%s: mean log p %.5f (float16 folder %.5f)\n", dtype, lp, ref);
    EXPECT_NEAR(lp, ref, tol) << dtype;
  }
}

// A GGUF source keeps every tensor's type and bytes (here llama.cpp's q4_K_M mix); the
// export's blocks are the source's blocks in plan order, and it runs as the source under the plan.
TEST(Export, GgufSourceKeepsItsQuantizedTensors) {
  const std::string path = shared_dir() + "/models/gguf/llama-code-16l-q4_K_M.gguf";
  auto src = load_model(path);
  const Plan plan = parse_plan_text("0-5,5,4,9-15");
  ScratchDir tmp("q4k");
  export_plan(*src, plan, tmp / "m.gguf", export_options("gguf"));
  GgufFile a(path), b(tmp / "m.gguf");
  const std::vector<int> order = export_layer_order(plan);
  for (size_t l = 0; l < order.size(); ++l)
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "attn_norm"}) {
      const GgufTensor& x = b.get("blk." + std::to_string(l) + "." + t + ".weight");
      const GgufTensor& y = a.get("blk." + std::to_string(order[l]) + "." + t + ".weight");
      ASSERT_EQ(x.type, y.type) << x.name;
      ASSERT_EQ(x.dims, y.dims) << x.name;
      ASSERT_EQ(std::memcmp(b.data(x), a.data(y), x.bytes), 0) << x.name;
    }
  EXPECT_EQ(b.get_int("llama.block_count", 0, 100), 15);
  EXPECT_EQ(b.keys(), a.keys());
  auto exported = load_model(tmp / "m.gguf");
  const auto ids = test_ids(src->config());
  EXPECT_LE(max_rel_error(plan_logits(*exported, full_plan(15), ids), plan_logits(*src, plan, ids)), 1e-5);
}

template <class F>
void expect_option_error(F&& f, const std::string& field, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "accepted (expected an error on " << field << ")";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Export, Refusals) {
  auto src = load_model(shared_dir() + "/golden/llama-tiny");
  ScratchDir tmp("refuse");
  expect_option_error([&] { export_plan(*src, parse_plan_text("0,1,[2,3],4"), tmp / "a", export_options("hf")); },
                      "plan", "step 3 ('[2,3]') is a parallel group");
  expect_option_error([&] { export_plan(*src, parse_plan_text("0,[2-4]x3"), tmp / "a", export_options("hf")); },
                      "plan", "step 2 ('[2-4]x3')");
  expect_option_error([&] { export_plan(*src, parse_plan_text("0-5"), tmp / "a", export_options("hf", "q8_0")); },
                      "dtype", "llama.cpp block type");
  expect_option_error([&] { export_plan(*src, parse_plan_text("0-5"), tmp / "a", export_options("gguf", "q3_K")); },
                      "dtype", "'q3_K' is not a weight type");
  expect_option_error([&] { export_plan(*src, parse_plan_text("0-5"), tmp / "a", export_options("onnx")); },
                      "format", "'onnx'");
  expect_option_error([&] { export_plan(*src, parse_plan_text("0-5"), tmp / "none/a", export_options("hf")); },
                      "out", "does not exist");
  export_plan(*src, parse_plan_text("0-1"), tmp / "a", export_options("hf"));
  expect_option_error([&] { export_plan(*src, parse_plan_text("0-5"), tmp / "a", export_options("hf")); },
                      "out", "exists (pass --force");
  // Nothing half-written is left behind by a refusal or an export.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path)) entries += e.path().filename() == "a" ? 0 : 1;  // before "c" exists
  EXPECT_EQ(entries, 0u);
  ExportOptions force = export_options("hf");
  force.force = true;
  export_plan(*src, parse_plan_text("0-3"), tmp / "a", force);
  EXPECT_EQ(load_model(tmp / "a")->config().n_layer, 4);
  export_plan(*src, parse_plan_text("0-2"), tmp / "c/", export_options("hf"));  // a trailing slash names the folder
  EXPECT_EQ(load_model(tmp / "c")->config().n_layer, 3);
  // BERT goes to Hugging Face folders only: the error names the model.
  auto bert = load_model(shared_dir() + "/golden/bert-tiny");
  try {
    export_plan(*bert, full_plan(6), tmp / "b.gguf", export_options("gguf"));
    ADD_FAILURE() << "bert to gguf accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("golden/bert-tiny: export supports the llama and gpt2"), std::string::npos)
        << e.what();
  }
}

TEST(Export, Cli) {
  ScratchDir tmp("cli");
  const std::string m = shared_dir() + "/models/llama-code-16l";
  auto r = run_cli("export --model " + m + " --plan 0-5,5,4,9-15 --out " + tmp / "m.gguf" + " --dtype q8_0");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("15 layers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: 15 'ffn_down.weight' tensor(s) written as f16"), std::string::npos) << r.out;
  r = run_cli("export --model " + m + " --plan '0,[1,2]' --out " + tmp / "x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("layerlab export: error: --plan: step 2 ('[1,2]') is a parallel group"), std::string::npos) << r.out;
  r = run_cli("export --model " + m + " --out " + tmp / "x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--plan: required"), std::string::npos) << r.out;
  r = run_cli("export --model " + m + " --plan 0-3 --out " + tmp / "m.gguf");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--out: '" + tmp / "m.gguf" + "' exists"), std::string::npos) << r.out;
  r = run_cli("convert --model " + tmp / "m.gguf" + " --out " + tmp / "hf" + " --dtype q8_0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--dtype: 'q8_0' is a llama.cpp block type"), std::string::npos) << r.out;
  r = run_cli("convert --model " + tmp / "m.gguf" + " --out " + tmp / "hf");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("written as f32"), std::string::npos) << r.out;
  EXPECT_EQ(load_model(tmp / "hf")->config().n_layer, 15);
}

}  // namespace
}  // namespace layerlab::testing
