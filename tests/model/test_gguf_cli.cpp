// The CLI with --model FILE.gguf: info reports what the file holds (checked against the
// Hugging Face config.json it was converted from and the tensor types llama.cpp wrote),
// tokenize gives the sentencepiece reference ids, forward runs an F32 file and refuses, with a
// clear error, weights this build has no kernels for.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "golden.h"
#include "tokenize/tokenizer_golden.h"

namespace layerlab::testing {
namespace {

std::string gguf(const std::string& name) { return shared_dir() + "/models/gguf/" + name; }

TEST(GgufCli, InfoShowsArchitectureSizesTypesAndResidentBytes) {
  const auto r = run_cli("info --model " + gguf("llama-code-16l-q8_0.gguf"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto cfg = nlohmann::json::parse(read_text_file(shared_dir() + "/models/llama-code-16l/config.json"));
  EXPECT_NE(r.out.find("family        llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers        " + std::to_string(cfg["num_hidden_layers"].get<int>())), std::string::npos);
  EXPECT_NE(r.out.find("mlp           " + std::to_string(cfg["intermediate_size"].get<int>())), std::string::npos);
  EXPECT_NE(r.out.find("kv heads " + std::to_string(cfg["num_key_value_heads"].get<int>())), std::string::npos);
  // ../shared/models/gguf/README.md: Q8_0 matrices, F16 where rows are not whole blocks
  // (the 16 ffn_down), F32 norms (16 x 2 + 1).
  EXPECT_NE(r.out.find("tensors       q8_0    98"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensors       f16     16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensors       f32     33"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("resident "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gguf q8_0"), std::string::npos) << r.out;
}

TEST(GgufCli, TokenizeGivesTheReferenceIds) {
  const auto& g = tokenizer_golden();
  const auto r = run_cli("tokenize --model " + gguf("llama-code-16l-q4_K_M.gguf") + " --no-add-bos '" + g.texts[15] + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  std::string want;
  for (int32_t id : g.llama2[15]) want += (want.empty() ? "" : " ") + std::to_string(id);
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), want) << r.out;
}

TEST(GgufCli, ForwardRunsF32AndQuantizedFiles) {
  for (const char* file : {"llama-tiny-f32.gguf", "llama-code-16l-q8_0.gguf", "llama-code-16l-q4_K_M.gguf"}) {
    const auto r = run_cli(std::string("forward --model ") + gguf(file) + " --ids 1,450,4996");
    EXPECT_EQ(r.status, 0) << file << ": " << r.out;
  }
}

TEST(GgufCli, BrokenFileIsAClearError) {
  const auto r = run_cli("info --model " + shared_dir() + "/golden/llama-tiny/config.json");
  EXPECT_EQ(r.status, 1);
  const std::string path = ::testing::TempDir() + "/layerlab_cli_broken.gguf";
  { std::ofstream(path) << "GGUF\x03"; }
  const auto b = run_cli("info --model " + path);
  EXPECT_EQ(b.status, 1) << b.out;
  EXPECT_NE(b.out.find(path + ": truncated GGUF file"), std::string::npos) << b.out;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace layerlab::testing
