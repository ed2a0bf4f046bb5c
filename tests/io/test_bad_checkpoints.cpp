// Hostile and broken inputs: each must give one clear layerlab::Error naming the file and the
// tensor or field, never a crash (this suite also runs under ASan/UBSan, see .ci/run).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "golden.h"
#include "layerlab/error.h"
#include "layerlab/model.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

class BadCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_bad_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const fs::path src = shared_dir() + "/golden/gpt2-tiny";
    fs::copy_file(src / "config.json", dir_ / "config.json");
    fs::copy_file(src / "model.safetensors", dir_ / "model.safetensors");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string weights() const { return (dir_ / "model.safetensors").string(); }
  std::string bytes() const { return read_text_file(weights()); }
  void write(const std::string& path, const std::string& content) const {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }
  // Rewrites the JSON header (keeping the data section) after `edit` changes it.
  void edit_header(const std::function<void(nlohmann::json&)>& edit) const {
    std::string b = bytes();
    uint64_t n;
    std::memcpy(&n, b.data(), 8);
    auto h = nlohmann::json::parse(b.substr(8, n));
    edit(h);
    std::string hs = h.dump();
    const uint64_t m = hs.size();
    write(weights(), std::string(reinterpret_cast<const char*>(&m), 8) + hs + b.substr(8 + n));
  }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    auto j = nlohmann::json::parse(read_text_file((dir_ / "config.json").string()));
    edit(j);
    write((dir_ / "config.json").string(), j.dump());
  }
  // load_model must throw an Error whose message contains every fragment.
  void expect_error(std::initializer_list<std::string> fragments) const {
    try {
      load_model(dir_.string());
      FAIL() << "load_model accepted a broken checkpoint";
    } catch (const Error& e) {
      for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
  fs::path dir_;
};

// Regression: nested JSON crashed the loader (stack overflow) from config.json and from a
// safetensors header; both are now refused before parsing, naming the file.
TEST_F(BadCheckpoint, DeeplyNestedConfigIsAnError) {
  std::string cfg = read_text_file((dir_ / "config.json").string());
  const size_t brace = cfg.rfind('}');
  cfg.insert(brace, ", \"deep\": " + std::string(60000, '[') + std::string(60000, ']'));
  write((dir_ / "config.json").string(), cfg);
  expect_error({"config.json", "nested deeper than 64"});
}

TEST_F(BadCheckpoint, DeeplyNestedSafetensorsHeaderIsAnError) {
  const std::string b = bytes();
  uint64_t n;
  std::memcpy(&n, b.data(), 8);
  std::string h = b.substr(8, n);
  h.insert(h.rfind('}'), ", \"x\": {\"dtype\": " + std::string(60000, '[') + std::string(60000, ']') + "}");
  const uint64_t m = h.size();
  write(weights(), std::string(reinterpret_cast<const char*>(&m), 8) + h + b.substr(8 + n));
  expect_error({"model.safetensors", "header", "nested deeper than 64"});
}

TEST_F(BadCheckpoint, IntactCopyLoads) { EXPECT_EQ(load_model(dir_.string())->config().n_layer, 6); }

TEST_F(BadCheckpoint, FileShorterThanHeaderLength) {
  write(weights(), "abc");
  expect_error({"model.safetensors", "truncated"});
}

TEST_F(BadCheckpoint, TruncatedData) {
  std::string b = bytes();
  write(weights(), b.substr(0, b.size() / 2));
  expect_error({"model.safetensors", "outside the data section"});
}

TEST_F(BadCheckpoint, HeaderLengthPastEndOfFile) {
  std::string b = bytes();
  const uint64_t huge = b.size();  // header claims more bytes than follow it
  std::memcpy(b.data(), &huge, 8);
  write(weights(), b);
  expect_error({"model.safetensors", "past the end of the file"});
}

TEST_F(BadCheckpoint, AbsurdHeaderLength) {
  std::string b = bytes();
  const uint64_t huge = ~0ull;
  std::memcpy(b.data(), &huge, 8);
  write(weights(), b);
  expect_error({"model.safetensors", "header length"});
}

TEST_F(BadCheckpoint, HeaderNotJson) {
  std::string b = bytes();
  b[8] = '#';
  write(weights(), b);
  expect_error({"model.safetensors", "not valid JSON"});
}

TEST_F(BadCheckpoint, OffsetsOutsideFile) {
  edit_header([](nlohmann::json& h) { h["transformer.ln_f.bias"]["data_offsets"] = {1ull << 40, (1ull << 40) + 256}; });
  expect_error({"model.safetensors", "transformer.ln_f.bias", "outside the data section"});
}

TEST_F(BadCheckpoint, OverlappingTensors) {
  edit_header([](nlohmann::json& h) { h["transformer.ln_f.bias"]["data_offsets"] = h["transformer.ln_f.weight"]["data_offsets"]; });
  expect_error({"model.safetensors", "overlap", "transformer.ln_f"});
}

TEST_F(BadCheckpoint, ByteSizeDisagreesWithShape) {
  edit_header([](nlohmann::json& h) { h["transformer.ln_f.bias"]["shape"] = {65}; });
  expect_error({"transformer.ln_f.bias", "does not match shape"});
}

TEST_F(BadCheckpoint, UnknownDtype) {
  edit_header([](nlohmann::json& h) { h["transformer.wpe.weight"]["dtype"] = "F8_E9M9"; });
  expect_error({"transformer.wpe.weight", "unknown dtype"});
}

TEST_F(BadCheckpoint, NegativeDimension) {
  edit_header([](nlohmann::json& h) { h["transformer.ln_f.bias"]["shape"] = {-64}; });
  expect_error({"transformer.ln_f.bias", "shape"});
}

TEST_F(BadCheckpoint, MissingTensor) {
  edit_header([](nlohmann::json& h) { h.erase("transformer.h.3.mlp.c_fc.bias"); });
  expect_error({"missing tensor", "transformer.h.3.mlp.c_fc.bias"});
}

TEST_F(BadCheckpoint, ShapeDisagreesWithConfig) {
  edit_config([](nlohmann::json& j) { j["n_positions"] = 300; });
  expect_error({"model.safetensors", "transformer.wpe.weight", "does not match config.json"});
}

TEST_F(BadCheckpoint, ConfigMissingField) {
  edit_config([](nlohmann::json& j) { j.erase("n_layer"); });
  expect_error({"config.json", "missing field", "n_layer"});
}

TEST_F(BadCheckpoint, ConfigFieldWrongType) {
  edit_config([](nlohmann::json& j) { j["n_head"] = "four"; });
  expect_error({"config.json", "n_head", "expected an integer"});
}

TEST_F(BadCheckpoint, ConfigHeadsDoNotDivideWidth) {
  edit_config([](nlohmann::json& j) { j["n_head"] = 5; });
  expect_error({"config.json", "num_attention_heads"});
}

TEST_F(BadCheckpoint, ConfigNotJson) {
  write((dir_ / "config.json").string(), "{ not json");
  expect_error({"config.json", "not valid JSON"});
}

TEST_F(BadCheckpoint, UnsupportedModelType) {
  edit_config([](nlohmann::json& j) { j["model_type"] = "mamba"; });
  expect_error({"config.json", "model_type", "mamba"});
}

TEST_F(BadCheckpoint, DirectoryWithoutModel) {
  fs::remove(dir_ / "model.safetensors");
  expect_error({"not a model folder"});
  fs::remove(dir_ / "config.json");
  expect_error({"no config.json"});
}

TEST_F(BadCheckpoint, NotADirectory) {
  try {
    load_model(weights());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos);
  }
}

TEST_F(BadCheckpoint, ShardIndexOutsideFolder) {
  fs::remove(dir_ / "model.safetensors");
  write((dir_ / "model.safetensors.index.json").string(), R"({"weight_map": {"a": "../../etc/passwd"}})");
  expect_error({"index.json", "outside the folder"});
}

// The CLI turns the same errors into a message and exit status 1.
TEST_F(BadCheckpoint, CliReportsErrorAndExitsNonZero) {
  write(weights(), "abc");
  const CliRun r = run_cli("info --model " + dir_.string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("error:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("truncated"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace layerlab::testing
