// Hostile tokenizer files (src/tokenize/bpe_load.cpp, bpe.cpp): token ids that are negative,
// at the int32 limit or beyond it, and JSON values of the wrong type. Each must be one Error
// naming the file and the key, never a heap overflow, signed overflow or "internal error".
// (Runs under ASan/UBSan in CI.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "golden.h"
#include "layerlab/error.h"
#include "layerlab/fs.h"
#include "layerlab/tokenizer.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A tokenizer.json built from ../shared's GPT-2 vocab.json and its first merges, plus one
// added token; each test breaks one field of it.
class HostileTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_tok_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string src = shared_dir() + "/tokenizers/gpt2";
    json merges = json::array();
    std::ifstream in(src + "/merges.txt");
    std::string line;
    while (std::getline(in, line) && merges.size() < 50)
      if (!line.empty() && line[0] != '#') merges.push_back(line);
    tj_ = {{"model", {{"type", "BPE"}, {"vocab", json::parse(read_text_file(src + "/vocab.json"))}, {"merges", merges}}},
           {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
           {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream((dir_ / name).string(), std::ios::trunc) << text;
  }
  void write_with(const std::function<void(json&)>& edit) const {
    json j = tj_;
    edit(j);
    write("tokenizer.json", j.dump());
  }
  // load_tokenizer must throw a layerlab::Error (not a JSON or std exception) with every fragment.
  void expect_error(std::initializer_list<std::string> fragments) const {
    try {
      load_tokenizer(dir_.string());
      FAIL() << "load_tokenizer accepted a hostile file";
    } catch (const Error& e) {
      for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
  fs::path dir_;
  json tj_;
};

TEST_F(HostileTokenizer, IntactFileLoads) {
  write_with([](json&) {});
  const auto tok = load_tokenizer(dir_.string());
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->encode("<|endoftext|>", {.parse_special = true}), (std::vector<int32_t>{50256}));
}

// Regression: a negative added-token id indexed the piece tables at -1 (heap-buffer-overflow).
TEST_F(HostileTokenizer, NegativeAddedTokenId) {
  write_with([](json& j) { j["added_tokens"][0]["id"] = -1; });
  expect_error({"tokenizer.json", "added_tokens[0].id", "an integer from 0"});
}

// Regression: id 2^31-1 made `id + 1` overflow; 2^31-2 would size tables of 2^31 strings.
TEST_F(HostileTokenizer, AddedTokenIdAtTheInt32Limit) {
  write_with([](json& j) { j["added_tokens"][0]["id"] = 2147483647; });
  expect_error({"tokenizer.json", "added_tokens[0].id"});
  write_with([](json& j) { j["added_tokens"][0]["id"] = 2147483646; });
  expect_error({"tokenizer.json", "token id 2147483646", "outside"});
}

// Regression: 2^32 + 5 was read as int32 5, silently.
TEST_F(HostileTokenizer, IdBeyondInt32IsNotTruncated) {
  write_with([](json& j) { j["model"]["vocab"]["hello"] = (int64_t(1) << 32) + 5; });
  expect_error({"tokenizer.json", "the id of \"hello\""});
}

TEST_F(HostileTokenizer, NegativeVocabularyId) {
  write_with([](json& j) { j["model"]["vocab"]["hello"] = -7; });
  expect_error({"tokenizer.json", "the id of \"hello\""});
}

// Regression: wrong JSON types exited with "internal error" (json type_error) naming no file.
TEST_F(HostileTokenizer, WrongTypesNameTheFileAndKey) {
  write_with([](json& j) { j["added_tokens"][0]["content"] = 5; });
  expect_error({"tokenizer.json", "added_tokens[0]", "content is not a string"});
  write_with([](json& j) { j["added_tokens"][0]["special"] = "yes"; });
  expect_error({"tokenizer.json", "added_tokens[0]", "'special' must be true or false"});
  write_with([](json& j) { j["added_tokens"] = json::object(); });
  expect_error({"tokenizer.json", "added_tokens is not an array"});
  write_with([](json& j) { j["model"]["ignore_merges"] = 1; });
  expect_error({"tokenizer.json", "'ignore_merges' must be true or false"});
  write_with([](json& j) { j["model"] = "BPE"; });
  expect_error({"tokenizer.json"});
  write_with([](json& j) { j["model"]["merges"][0] = 7; });
  expect_error({"tokenizer.json", "model.merges"});
}

TEST_F(HostileTokenizer, AddedTokensDecoderKeyMustBeAnId) {
  write_with([](json&) {});
  write("tokenizer_config.json", R"({"added_tokens_decoder": {"abc": {"content": "<x>"}}})");
  expect_error({"tokenizer_config.json", "added_tokens_decoder", "not a token id"});
  write("tokenizer_config.json", R"({"added_tokens_decoder": {"-3": {"content": "<x>"}}})");
  expect_error({"tokenizer_config.json", "not a token id"});
  write("tokenizer_config.json", R"({"added_tokens_decoder": {"99999999999": {"content": "<x>"}}})");
  expect_error({"tokenizer_config.json", "not a token id"});
}

TEST_F(HostileTokenizer, DuplicateVocabularyKey) {
  write_with([](json&) {});
  std::string text = read_text_file((dir_ / "tokenizer.json").string());
  const size_t at = text.find("\"vocab\":{");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 9, "\"hello\":3,\"hello\":4,");
  write("tokenizer.json", text);
  expect_error({"tokenizer.json", "duplicate key", "hello"});
}

}  // namespace
}  // namespace layerlab::testing
