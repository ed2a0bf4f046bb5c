// Tokenizers from GGUF files. References: the tokenizer.model of ../shared/models/llama-code-16l
// (the folder llama.cpp converted the GGUF files from), the ids of tokenizer_golden.json
// (Hugging Face / sentencepiece), and GPT-2's vocab.json + merges.txt.
#include <gtest/gtest.h>

#include <fstream>

#include "layerlab/error.h"
#include "layerlab/tokenizer.h"
#include "model/gguf_fixtures.h"
#include "tokenizer_golden.h"

namespace layerlab::testing {
namespace {

std::vector<std::string> python_val_texts() {
  std::vector<std::string> out;
  std::ifstream in(shared_dir() + "/data/python-code/val.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
  return out;
}

class LlamaGguf : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaGguf, EqualsTheTokenizerModel) {
  auto ref = load_tokenizer(shared_dir() + "/models/llama-code-16l");  // reads tokenizer.model
  auto tok = load_tokenizer(shared_dir() + "/models/gguf/" + GetParam());
  EXPECT_EQ(tok->family(), "sentencepiece");
  ASSERT_EQ(tok->vocab_size(), ref->vocab_size());
  EXPECT_EQ(tok->bos_id(), ref->bos_id());
  EXPECT_EQ(tok->eos_id(), ref->eos_id());
  for (int32_t i = 0; i < ref->vocab_size(); ++i) ASSERT_EQ(tok->piece(i), ref->piece(i)) << i;
  const auto& g = tokenizer_golden();
  for (size_t i = 0; i < g.texts.size(); ++i) {
    EXPECT_EQ(tok->encode(g.texts[i]), g.llama2[i]) << "golden text " << i;
    EXPECT_EQ(tok->encode(g.texts[i]), ref->encode(g.texts[i])) << "golden text " << i;
    EXPECT_EQ(tok->decode(g.llama2[i]), ref->decode(g.llama2[i])) << "golden text " << i;
  }
  const auto val = python_val_texts();
  ASSERT_EQ(val.size(), 51u);
  size_t tokens = 0;
  for (size_t i = 0; i < val.size(); ++i) {
    const auto ids = tok->encode(val[i]);
    tokens += ids.size();
    ASSERT_EQ(ids, ref->encode(val[i])) << "val text " << i;
    EXPECT_EQ(tok->decode(ids), ref->decode(ids)) << "val text " << i;
  }
  EXPECT_GT(tokens, 10000u);
  // BOS as llama.cpp adds it by default (add_bos_token absent: true).
  const auto with_bos = tok->encode("def f(x):", {.add_bos = true});
  auto want = ref->encode("def f(x):");
  want.insert(want.begin(), 1);
  EXPECT_EQ(with_bos, want);
}

INSTANTIATE_TEST_SUITE_P(Files, LlamaGguf,
                         ::testing::Values("llama-code-16l-q8_0.gguf", "llama-code-16l-q4_K_M.gguf",
                                           "llama-tiny-f32.gguf"));

GgufOutValue* meta(GgufMeta& m, const std::string& key) {
  for (auto& [k, v] : m)
    if (k == key) return &v;
  m.emplace_back(key, GgufOutValue{});
  return &m.back().second;
}

const std::string kTiny = "models/gguf/llama-tiny-f32.gguf";

TEST(GgufTokenizer, AddBosAndAddEosFlags) {
  const std::string p = edited_gguf(kTiny, "flags.gguf", [](GgufMeta& m, auto&) {
    *meta(m, "tokenizer.ggml.add_bos_token") = gguf_bool(true);
    *meta(m, "tokenizer.ggml.add_eos_token") = gguf_bool(true);
  });
  auto tok = load_tokenizer(p);
  const auto plain = tok->encode("x = 1");
  auto want = plain;
  want.insert(want.begin(), 1);
  want.push_back(2);
  EXPECT_EQ(tok->encode("x = 1", {.add_bos = true}), want);
  const std::string q = edited_gguf(kTiny, "nobos.gguf", [](GgufMeta& m, auto&) {
    *meta(m, "tokenizer.ggml.add_bos_token") = gguf_bool(false);
  });
  EXPECT_EQ(load_tokenizer(q)->encode("x = 1", {.add_bos = true}), plain);
  std::filesystem::remove(p);
  std::filesystem::remove(q);
}

TEST(GgufTokenizer, Gpt2BpeFromTokensAndMerges) {
  const std::string p = make_gpt2_tiny_gguf();
  auto tok = load_tokenizer(p);
  EXPECT_EQ(tok->family(), "gpt2-bpe");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eos_id(), 50256);
  const auto& g = tokenizer_golden();
  for (size_t i = 0; i < g.texts.size(); ++i) EXPECT_EQ(tok->encode(g.texts[i]), g.gpt2[i]) << "golden text " << i;
  EXPECT_EQ(tok->encode("a<|endoftext|>", {.parse_special = true}), (std::vector<int32_t>{64, 50256}));
  std::filesystem::remove(p);
}

void expect_tok_error(const std::string& path, std::initializer_list<std::string> fragments) {
  try {
    load_tokenizer(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
  }
  std::filesystem::remove(path);
}

TEST(GgufTokenizer, HostileMetadata) {
  expect_tok_error(edited_gguf(kTiny, "m.gguf", [](GgufMeta& m, auto&) { *meta(m, "tokenizer.ggml.model") = gguf_str("t5"); }),
                   {"'tokenizer.ggml.model': unsupported tokenizer model 't5'"});
  expect_tok_error(edited_gguf(kTiny, "s.gguf", [](GgufMeta& m, auto&) { *meta(m, "tokenizer.ggml.scores") = gguf_f32s({1, 2}); }),
                   {"'tokenizer.ggml.scores': 2 entries for 32000 tokens"});
  expect_tok_error(edited_gguf(kTiny, "t.gguf", [](GgufMeta& m, auto&) {
                     auto* v = meta(m, "tokenizer.ggml.token_type");
                     v->nums[7] = 9;
                   }),
                   {"'tokenizer.ggml.token_type': element 7 (9) is outside [1, 6]"});
  expect_tok_error(edited_gguf(kTiny, "d.gguf", [](GgufMeta& m, auto&) {
                     auto* v = meta(m, "tokenizer.ggml.tokens");
                     v->strings[500] = v->strings[400];
                   }),
                   {"'tokenizer.ggml.tokens': token 500", "appears twice"});
  expect_tok_error(edited_gguf(kTiny, "b.gguf", [](GgufMeta& m, auto&) { *meta(m, "tokenizer.ggml.bos_token_id") = gguf_u32(99999); }),
                   {"'tokenizer.ggml.bos_token_id': token 99999 is outside the vocabulary of 32000"});
  expect_tok_error(edited_gguf(kTiny, "u.gguf", [](GgufMeta& m, auto&) { *meta(m, "tokenizer.ggml.unknown_token_id") = gguf_u32(5); }),
                   {"the unknown token 5 is not of type 2"});
  expect_tok_error(edited_gguf(kTiny, "n.gguf", [](GgufMeta& m, auto&) { std::erase_if(m, [](auto& kv) { return kv.first == "tokenizer.ggml.tokens"; }); }),
                   {"'tokenizer.ggml.tokens': missing"});
  expect_tok_error(edited_gguf(kTiny, "p.gguf", [](GgufMeta& m, auto&) {
                     *meta(m, "tokenizer.ggml.model") = gguf_str("gpt2");
                     *meta(m, "tokenizer.ggml.pre") = gguf_str("qwen2");
                   }),
                   {"'tokenizer.ggml.pre': pre-tokenizer 'qwen2' is not supported"});
  expect_tok_error(edited_gguf(kTiny, "g.gguf", [](GgufMeta& m, auto&) {
                     *meta(m, "tokenizer.ggml.model") = gguf_str("gpt2");
                     *meta(m, "tokenizer.ggml.merges") = gguf_strings({"ab"});
                   }),
                   {"'tokenizer.ggml.merges': merge 'ab' is not two pieces"});
}

}  // namespace
}  // namespace layerlab::testing
