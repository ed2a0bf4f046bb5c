// Hostile config.json values (src/model/config_reader.cpp, load.cpp, family_*.cpp): sizes that
// overflow int products or would size gigabytes before any tensor is read, RoPE settings that
// give NaN silently, token ids outside the vocabulary. Each must be one Error naming config.json
// and the field, never a crash, bad_alloc or a NaN result. (Runs under ASan/UBSan in CI.)
#include <gtest/gtest.h>

#include "model_folder.h"

namespace layerlab::testing {
namespace {

class HostileGpt2Config : public ModelFolderTest {
 protected:
  void SetUp() override { copy_from("golden/gpt2-tiny"); }
};

class HostileLlamaConfig : public ModelFolderTest {
 protected:
  void SetUp() override { copy_from("golden/llama-tiny"); }
};

TEST_F(HostileGpt2Config, IntactCopyLoads) { EXPECT_EQ(load_model(dir_.string())->config().n_layer, 6); }
TEST_F(HostileLlamaConfig, IntactCopyLoads) { EXPECT_GT(load_model(dir_.string())->config().n_layer, 0); }

// Regression: n_embd 1e9 overflowed 4 * n_embd (the default MLP width) in int.
TEST_F(HostileGpt2Config, HugeWidthIsRefusedByName) {
  edit_config([](nlohmann::json& j) { j["n_embd"] = 1000000000; });
  expect_error({"config.json", "n_embd", "an integer from 0 to 16777216"});
}

// Regression: n_positions 2^31-1 allocated the position table (bad_alloc) before its tensor was
// read; the shape is now checked against the file first.
TEST_F(HostileGpt2Config, HugePositionsNeverAllocate) {
  edit_config([](nlohmann::json& j) { j["n_positions"] = 16000000; });
  expect_error({"model.safetensors", "transformer.wpe.weight", "does not match config.json"});
}

TEST_F(HostileGpt2Config, IntegerBeyondInt64IsAnError) {
  std::string cfg = read_text_file(config_path());
  cfg.insert(cfg.rfind('}'), ", \"n_inner\": 123456789012345678901234567890");
  write(config_path(), cfg);
  expect_error({"config.json"});
}

TEST_F(HostileGpt2Config, TokenIdOutsideTheVocabulary) {
  edit_config([](nlohmann::json& j) { j["eos_token_id"] = 300000000; });
  expect_error({"config.json", "eos_token_id"});
  edit_config([](nlohmann::json& j) { j["eos_token_id"] = j["vocab_size"]; });
  expect_error({"config.json", "eos_token_id", "outside the vocabulary"});
}

TEST_F(HostileGpt2Config, FloatWhereAnIntegerBelongs) {
  edit_config([](nlohmann::json& j) { j["n_head"] = 4.0; });
  expect_error({"config.json", "n_head", "expected an integer"});
}

// Regression: head_dim 2^29 with 8 heads overflowed n_head * head_dim in int.
TEST_F(HostileLlamaConfig, HeadsTimesHeadSizeOverflow) {
  edit_config([](nlohmann::json& j) { j["head_dim"] = 1 << 23; j["num_attention_heads"] = 1 << 10; });
  expect_error({"config.json", "num_attention_heads", "beyond"});
}

// Regression: rope_theta 0 gave NaN angles and NaN losses without an error.
TEST_F(HostileLlamaConfig, NonPositiveRopeBase) {
  for (double theta : {0.0, -10000.0}) {
    edit_config([&](nlohmann::json& j) { j["rope_parameters"]["rope_theta"] = theta; });
    expect_error({"config.json", "rope_theta", "positive"});
  }
}

TEST_F(HostileLlamaConfig, RopeScalingWithAbsurdOriginalLength) {
  edit_config([](nlohmann::json& j) {
    j["rope_parameters"] = {{"rope_theta", 10000.0}, {"rope_type", "llama3"}, {"factor", 8.0},
                            {"original_max_position_embeddings", 1e300}};
  });
  expect_error({"config.json", "original_max_position_embeddings"});
  edit_config([](nlohmann::json& j) {
    j["rope_parameters"] = {{"rope_theta", 10000.0}, {"rope_type", "llama3"}, {"factor", 8.0},
                            {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0}};
  });
  expect_error({"config.json", "high_freq_factor"});
}

// Llama 3 configs list several end-of-text ids; the first is taken (was "expected an integer").
TEST_F(HostileLlamaConfig, EosTokenListTakesTheFirst) {
  edit_config([](nlohmann::json& j) { j["eos_token_id"] = {2, 1}; });
  EXPECT_EQ(load_model(dir_.string())->config().eos_id, 2);
  edit_config([](nlohmann::json& j) { j["eos_token_id"] = {"x"}; });
  expect_error({"config.json", "eos_token_id[0]"});
}

TEST_F(HostileLlamaConfig, ErrorQuotesOnlyAnExcerptOfAHugeValue) {
  edit_config([](nlohmann::json& j) { j["hidden_act"] = std::string(100000, 'x'); });
  try {
    load_model(dir_.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 400u) << std::string(e.what()).substr(0, 200);
  }
}

}  // namespace
}  // namespace layerlab::testing
