// Hostile and broken inputs: each must give one clear layerlab::Error naming the file and the
// tensor or field, never a crash (this suite also runs under ASan/UBSan, see .ci/run).
#include <gtest/gtest.h>

#include "cli_run.h"
#include "model_folder.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

class BadCheckpoint : public ModelFolderTest {
 protected:
  void SetUp() override { copy_from("golden/gpt2-tiny"); }
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
  b[9] = '#';  // just after the opening brace
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

// Regression: A [x, y) E [m, m) B [z, w) with B overlapping A was accepted when an empty tensor
// E sorted between them (only neighbours were compared).
TEST_F(BadCheckpoint, OverlapAcrossAnEmptyTensor) {
  edit_header([](nlohmann::json& h) {
    const auto w = h["transformer.ln_f.weight"]["data_offsets"];
    const uint64_t begin = w[0].get<uint64_t>(), end = w[1].get<uint64_t>();
    h["empty"] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {begin + 4, begin + 4}}};
    h["transformer.ln_f.bias"]["data_offsets"] = {begin + 8, end + 8};
  });
  expect_error({"model.safetensors", "overlap", "transformer.ln_f"});
}

// Regression: nlohmann keeps the last of two equal keys, so a header naming a tensor twice
// loaded whichever came last without a word; the same for config.json.
TEST_F(BadCheckpoint, DuplicateTensorNameInHeader) {
  std::string h = header_text();
  const size_t at = h.find("\"transformer.ln_f.bias\"");
  ASSERT_NE(at, std::string::npos);
  const size_t close = h.find('}', at);
  const std::string entry = h.substr(at, close + 1 - at);
  h.insert(h.rfind('}'), "," + entry);
  write_header_text(h);
  expect_error({"model.safetensors", "duplicate key", "transformer.ln_f.bias"});
}

TEST_F(BadCheckpoint, DuplicateConfigKey) {
  std::string cfg = read_text_file(config_path());
  cfg.insert(cfg.rfind('}'), ", \"n_layer\": 2");
  write(config_path(), cfg);
  expect_error({"config.json", "duplicate key", "n_layer"});
}

// Regression: a NUL byte ended nlohmann's parse early, so "{...}\0anything" was a valid header.
TEST_F(BadCheckpoint, NulInHeaderIsAnError) {
  std::string h = header_text();
  while (h.back() == ' ') h.pop_back();
  write_header_text(h + std::string(1, '\0') + "trailing bytes");
  expect_error({"model.safetensors", "NUL byte"});
}

TEST_F(BadCheckpoint, HeaderThatIsNotAnObjectIsAnError) {
  write_header_text("[1, 2, 3]");
  expect_error({"model.safetensors", "does not start with '{'"});
}

// Regression: a config with fewer layers than the checkpoint silently ran a truncated model.
TEST_F(BadCheckpoint, ConfigWithFewerLayersThanTheCheckpoint) {
  edit_config([](nlohmann::json& j) { j["n_layer"] = 4; });
  expect_error({"config.json", "holds 6 layers", "says 4"});
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
