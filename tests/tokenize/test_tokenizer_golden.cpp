// Every golden text gives exactly the reference ids, for every family and every folder that
// holds its tokenizer files, including a tokenizer.json built here from GPT-2's vocab/merges.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "layerlab/error.h"
#include "layerlab/tokenizer.h"
#include "tokenizer_golden.h"

namespace layerlab::testing {
namespace {

namespace fs = std::filesystem;

void expect_golden(const Tokenizer& tok, const std::vector<std::vector<int32_t>>& ref, const EncodeOptions& opt = {}) {
  const auto& g = tokenizer_golden();
  ASSERT_EQ(g.texts.size(), ref.size());
  for (size_t i = 0; i < g.texts.size(); ++i)
    EXPECT_EQ(tok.encode(g.texts[i], opt), ref[i]) << "text " << i << ": \"" << g.texts[i] << "\"";
}

TEST(TokenizerGolden, Gpt2VocabMerges) {
  for (const char* dir : {"/tokenizers/gpt2", "/golden/gpt2-tiny"}) {
    SCOPED_TRACE(dir);
    auto tok = load_tokenizer(shared_dir() + dir);
    EXPECT_EQ(tok->family(), "gpt2-bpe");
    EXPECT_EQ(tok->vocab_size(), 50257);
    EXPECT_EQ(tok->eos_id(), 50256);
    EXPECT_EQ(tok->piece(50256), "<|endoftext|>");
    expect_golden(*tok, tokenizer_golden().gpt2);
  }
}

TEST(TokenizerGolden, Llama2SentencePiece) {
  for (const char* dir : {"/tokenizers/llama2", "/golden/llama-tiny"}) {
    SCOPED_TRACE(dir);
    auto tok = load_tokenizer(shared_dir() + dir);
    EXPECT_EQ(tok->family(), "sentencepiece");
    EXPECT_EQ(tok->vocab_size(), 32000);
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    expect_golden(*tok, tokenizer_golden().llama2);
  }
}

TEST(TokenizerGolden, Llama2WithBos) {
  auto tok = load_tokenizer(shared_dir() + "/tokenizers/llama2");
  const auto& g = tokenizer_golden();
  for (size_t i = 0; i < g.texts.size(); ++i) {
    std::vector<int32_t> want{1};
    want.insert(want.end(), g.llama2[i].begin(), g.llama2[i].end());
    EXPECT_EQ(tok->encode(g.texts[i], {.add_bos = true}), want) << g.texts[i];
  }
}

TEST(TokenizerGolden, BertUncasedWordPiece) {
  for (const char* dir : {"/tokenizers/bert-uncased", "/golden/bert-tiny"}) {
    SCOPED_TRACE(dir);
    auto tok = load_tokenizer(shared_dir() + dir);
    EXPECT_EQ(tok->family(), "wordpiece");
    EXPECT_EQ(tok->vocab_size(), 30522);
    EXPECT_EQ(tok->piece(tok->eos_id()), "[SEP]");
    expect_golden(*tok, tokenizer_golden().bert_uncased, {.add_special = true});
  }
}

TEST(TokenizerGolden, BertWithoutSpecialTokens) {
  auto tok = load_tokenizer(shared_dir() + "/tokenizers/bert-uncased");
  const auto& g = tokenizer_golden();
  for (size_t i = 0; i < g.texts.size(); ++i) {
    const auto& ref = g.bert_uncased[i];
    ASSERT_GE(ref.size(), 2u);
    EXPECT_EQ(tok->piece(ref.front()), "[CLS]");
    EXPECT_EQ(tok->piece(ref.back()), "[SEP]");
    EXPECT_EQ(tok->encode(g.texts[i]), std::vector<int32_t>(ref.begin() + 1, ref.end() - 1)) << g.texts[i];
  }
}

// A Hugging Face tokenizer.json for GPT-2, written from vocab.json + merges.txt.
class Gpt2TokenizerJson : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("layerlab_tokjson_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(bool merges_as_pairs) {
    const std::string src = shared_dir() + "/tokenizers/gpt2";
    nlohmann::json vocab = nlohmann::json::parse(read_text_file(src + "/vocab.json"));
    nlohmann::json merges = nlohmann::json::array();
    std::istringstream in(read_text_file(src + "/merges.txt"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line.rfind("#version", 0) == 0) continue;
      const auto sp = line.find(' ');
      if (merges_as_pairs) merges.push_back({line.substr(0, sp), line.substr(sp + 1)});
      else merges.push_back(line);
    }
    nlohmann::json j = {
        {"version", "1.0"},
        {"added_tokens",
         {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}, {"single_word", false},
           {"lstrip", false}, {"rstrip", false}, {"normalized", true}}}},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
        {"post_processor", nullptr},
        {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
        {"model",
         {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
          {"merges", merges}}}};
    std::ofstream(dir_ / "tokenizer.json") << j.dump();
  }
  fs::path dir_;
};

TEST_F(Gpt2TokenizerJson, MergesAsStrings) {
  write(false);
  auto tok = load_tokenizer(dir_.string());
  EXPECT_EQ(tok->family(), "gpt2-bpe");
  EXPECT_EQ(tok->eos_id(), 50256);
  expect_golden(*tok, tokenizer_golden().gpt2);
}

TEST_F(Gpt2TokenizerJson, MergesAsPairs) {
  write(true);
  auto tok = load_tokenizer(dir_.string());
  expect_golden(*tok, tokenizer_golden().gpt2);
}

TEST_F(Gpt2TokenizerJson, OtherTokenizerJsonIsAClearError) {
  std::ofstream(dir_ / "tokenizer.json") << R"({"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": null})";
  try {
    load_tokenizer(dir_.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST_F(Gpt2TokenizerJson, EmptyFolderNamesTheFolder) {
  try {
    load_tokenizer(dir_.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no tokenizer files"), std::string::npos) << e.what();
  }
}

// With parse_special, "<|endoftext|>" in the text is the single token 50256; the rest of the
// text keeps its reference ids (golden text 10 is "<|endoftext|> is special?").
TEST(TokenizerGolden, Gpt2ParseSpecial) {
  const auto& g = tokenizer_golden();
  ASSERT_EQ(g.texts[10], "<|endoftext|> is special?");
  const auto& plain = g.gpt2[10];
  ASSERT_EQ(plain.size(), 10u);
  auto tok = load_tokenizer(shared_dir() + "/tokenizers/gpt2");
  std::vector<int32_t> want{50256};
  want.insert(want.end(), plain.end() - 3, plain.end());  // " is", " special", "?"
  EXPECT_EQ(tok->encode(g.texts[10], {.parse_special = true}), want);
  EXPECT_EQ(tok->encode(g.texts[10]), plain);
  // Two in a row and at the end, glued to text.
  const auto hello = g.gpt2[0];  // "Hello, world!"
  std::vector<int32_t> want2 = hello;
  want2.push_back(50256);
  want2.push_back(50256);
  EXPECT_EQ(tok->encode(g.texts[0] + "<|endoftext|><|endoftext|>", {.parse_special = true}), want2);
  EXPECT_EQ(tok->decode(want2), g.texts[0] + "<|endoftext|><|endoftext|>");
}

}  // namespace
}  // namespace layerlab::testing
